"""Frozen Jasper graph (.pb from ckpt2pb.py) -> ONNX model, checked against TensorFlow in onnxruntime.

    python generate_pb/pb2onnx.py --model_path=jasper_infer_float32.pb --output_file=jasper_infer_float32.onnx
                                  [--opset=15] [--tolerance=1e-4]

The ONNX model keeps the graph's names without the ":0": inputs features [B, T, F] and features_length [B]
(int32), outputs ForwardPass/fully_connected_ctc_decoder/logits [B, T', V+1] and logits_length [B] (int32);
B and T stay free or static as in the .pb. The check feeds the same random utterances of different lengths to
both runtimes and fails when the valid logits differ by more than --tolerance.
"""
import argparse
import os
import sys

import numpy as np
import tensorflow.compat.v1 as tf
import tf2onnx

from open_seq2seq.utils.atomic import atomic_output
from open_seq2seq.utils.cli import one_line_errors
from open_seq2seq.utils.logging import deco_print
from open_seq2seq.export.frozen_model import FrozenJasper, read_frozen_graph
from open_seq2seq.export.onnx_model import ONNX_INPUTS, ONNX_OUTPUTS, OnnxJasper
CHECK_BATCH, CHECK_FRAMES = 3, 200


def convert(model_path, output_file, opset):
  """Writes to ``output_file`` the ONNX model (``opset``) of the frozen graph ``model_path``, with the inputs
  ONNX_INPUTS and outputs ONNX_OUTPUTS named without ``:0``.

  Raises IOError / ValueError as frozen_model.read_frozen_graph does.
  """
  names = [name + ":0" for name in ONNX_INPUTS + ONNX_OUTPUTS]
  model_proto, _ = tf2onnx.convert.from_graph_def(
      read_frozen_graph(model_path), input_names=names[:2], output_names=names[2:], opset=opset,
      tensors_to_rename={name: name[:-2] for name in names})
  with atomic_output(output_file) as tmp_path, open(tmp_path, "wb") as handle:
    handle.write(model_proto.SerializeToString())


def onnx_logits(onnx_file, features):
  """Float32 valid logits ``[frames_i', V+1]`` of each ``[frames_i, F]`` utterance of ``features`` from
  onnxruntime on CPU (onnx_model.py's OnnxJasper), batched as FrozenJasper batches them."""
  model = OnnxJasper(onnx_file)
  try:
    return model.run(features)
  finally:
    model.close()


def check(model_path, onnx_file):
  """Max abs difference of the valid logits of random utterances between TensorFlow and onnxruntime.

  The utterances are standard-normal features, up to CHECK_BATCH of them (fewer for a smaller static batch)
  of CHECK_FRAMES (or the static number of) frames, each 7 frames shorter than the one before.
  """
  model = FrozenJasper(model_path)
  try:
    count = min(CHECK_BATCH, model.batch_size or CHECK_BATCH)
    frames = model.num_frames or CHECK_FRAMES
    rng = np.random.default_rng(0)
    features = [rng.standard_normal([frames - 7 * i, model.num_features]).astype(np.float32)
                for i in range(count)]
    expected = model.run(features)
  finally:
    model.close()
  actual = onnx_logits(onnx_file, features)
  return max(float(np.max(np.abs(e - a))) for e, a in zip(expected, actual))


def build_parser():
  """The command line of generate_pb/pb2onnx.py."""
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                   allow_abbrev=False)
  parser.add_argument("--model_path", required=True, help="frozen graph written by ckpt2pb.py")
  parser.add_argument("--output_file", required=True, help="ONNX model to write")
  parser.add_argument("--opset", type=int, default=15, help="ONNX opset")
  parser.add_argument("--tolerance", type=float, default=1e-4,
                      help="largest accepted difference of the logits between TensorFlow and onnxruntime")
  return parser


def main(argv=None):
  """Converts and checks as the command line ``argv`` (default: sys.argv[1:]) says; returns 0.

  Raises ValueError when the logits differ by more than --tolerance or the graph is not an exported Jasper
  graph, IOError when the graph is missing; ``cli`` turns them into one ``*** Error:`` line.
  """
  args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
  tf.disable_eager_execution()
  tf.logging.set_verbosity(tf.logging.ERROR)
  convert(args.model_path, args.output_file, args.opset)
  deco_print("Wrote {} ({:.1f} MB)".format(args.output_file, os.path.getsize(args.output_file) / 1e6))
  difference = check(args.model_path, args.output_file)
  deco_print("onnxruntime vs TensorFlow: max abs difference of the logits {:.3g} (tolerance {:g})".format(
      difference, args.tolerance))
  if not difference <= args.tolerance:
    raise ValueError("{}: logits differ from {} by {:.3g} > --tolerance={:g}".format(
        args.output_file, args.model_path, difference, args.tolerance))
  return 0


# The entry point of generate_pb/pb2onnx.py and the console script jasper-pb2onnx.
cli = one_line_errors()(main)

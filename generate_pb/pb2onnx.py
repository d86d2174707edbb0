#!/usr/bin/env python
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

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402  pylint: disable=wrong-import-position
import onnxruntime  # noqa: E402  pylint: disable=wrong-import-position
import tensorflow.compat.v1 as tf  # noqa: E402  pylint: disable=wrong-import-position
import tf2onnx  # noqa: E402  pylint: disable=wrong-import-position

from generate_pb.inference_graph import (FEATURES, FEATURES_LENGTH, LOGITS,  # noqa: E402  pylint: disable=wrong-import-position
                                         LOGITS_LENGTH)
from online_inference.frozen_model import FrozenJasper, read_frozen_graph, valid_logits  # noqa: E402  pylint: disable=wrong-import-position
from open_seq2seq.utils.atomic import atomic_output  # noqa: E402  pylint: disable=wrong-import-position
from open_seq2seq.utils.logging import deco_print  # noqa: E402  pylint: disable=wrong-import-position

ONNX_INPUTS = (FEATURES, FEATURES_LENGTH)
ONNX_OUTPUTS = (LOGITS, LOGITS_LENGTH)
CHECK_BATCH, CHECK_FRAMES = 3, 200


def convert(model_path, output_file, opset):
  """Writes the ONNX model of the frozen graph ``model_path``."""
  names = [name + ":0" for name in ONNX_INPUTS + ONNX_OUTPUTS]
  model_proto, _ = tf2onnx.convert.from_graph_def(
      read_frozen_graph(model_path), input_names=names[:2], output_names=names[2:], opset=opset,
      tensors_to_rename={name: name[:-2] for name in names})
  with atomic_output(output_file) as tmp_path, open(tmp_path, "wb") as handle:
    handle.write(model_proto.SerializeToString())


def onnx_logits(onnx_file, model, features):
  """Valid logits of each utterance from onnxruntime, batched as ``model.run`` batches them."""
  session = onnxruntime.InferenceSession(onnx_file, providers=["CPUExecutionProvider"])
  batch, lengths = model.padded_batch(features)
  logits, logits_length = session.run(list(ONNX_OUTPUTS), {FEATURES: batch, FEATURES_LENGTH: lengths})
  return valid_logits(logits, logits_length, len(features))


def check(model_path, onnx_file):
  """Max abs difference of the valid logits of random utterances between TensorFlow and onnxruntime."""
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
  actual = onnx_logits(onnx_file, model, features)
  return max(float(np.max(np.abs(e - a))) for e, a in zip(expected, actual))


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                   allow_abbrev=False)
  parser.add_argument("--model_path", required=True, help="frozen graph written by ckpt2pb.py")
  parser.add_argument("--output_file", required=True, help="ONNX model to write")
  parser.add_argument("--opset", type=int, default=15, help="ONNX opset")
  parser.add_argument("--tolerance", type=float, default=1e-4,
                      help="largest accepted difference of the logits between TensorFlow and onnxruntime")
  args = parser.parse_args(sys.argv[1:] if argv is None else argv)
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


if __name__ == "__main__":
  try:
    sys.exit(main())
  except (ValueError, IOError) as error:
    sys.stderr.write("*** Error: {}\n".format(error))
    sys.exit(1)

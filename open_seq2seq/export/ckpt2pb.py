"""Checkpoint -> frozen inference graph (.pb) with stable input and output names (docs/export.md).

    python generate_pb/ckpt2pb.py --config_file=CONFIG --checkpoint=LOGDIR_OR_CKPT --output_file=OUT.pb
                                  [--dtype=float32|float16|bfloat16] [--no-fold_batch_norm] [--batch_size=B]
                                  [--num_frames=T] [--key=value ...]

Inputs of the graph:  features [B, T, F] (--dtype; float32 for bfloat16), features_length [B] int32 (valid
                      frames per row).
Outputs:              ForwardPass/fully_connected_ctc_decoder/logits [B, T', V+1] (batch-major, --dtype;
                      float32 for bfloat16),
                      ForwardPass/fully_connected_ctc_decoder/fully_connected/BiasAdd [B*T', V+1],
                      logits_length [B] int32 (valid frames of each row of the logits).
Each batch norm is folded into its convolution (weights scaled per channel and a bias, computed in float32 from
the checkpoint, then stored in --dtype), so conv, bias, residual sum and ReLU run as one fused oneDNN
convolution; --no-fold_batch_norm keeps the training graph's batch-norm ops instead.
--dtype=bfloat16 stores the encoder's weights in bfloat16 and computes the encoder in it (native on CPUs with
AVX512-BF16/AMX), while the features go in and the logits come out in float32 (the encoder casts its input, the
decoder's dense layer is float32), so callers feed and read float32 as with a float32 export (signature.py).
B and T are free unless --batch_size / --num_frames fix them (Ascend's offline converter needs both fixed;
the reference used --batch_size=1 --num_frames=2336). Further --key=value arguments override config values,
as with run.py. With the config's ``ema_decay`` set, the graph holds the checkpoint's moving averages of the
weights, as run.py's eval and infer modes use them (``--ema_decay=0`` exports the raw weights).
"""
import argparse
import os
import sys

import tensorflow.compat.v1 as tf

from open_seq2seq.utils.checkpoint import build_restore_fn, resolve_checkpoint
from open_seq2seq.utils.cli import ArgumentParser, one_line_errors, positive_int
from open_seq2seq.utils.config import apply_cli_overrides, load_config_module
from open_seq2seq.utils.logging import deco_print
from open_seq2seq.export.freeze import frozen_graph_def, write_graph_def
from open_seq2seq.export.inference_graph import build_inference_model, inference_tensors
from open_seq2seq.export.signature import EXPORT_DTYPES, INPUT_NAMES, OUTPUT_NAMES


def build_parser():
  """The command line of generate_pb/ckpt2pb.py; arguments it does not know are config overrides. A bad one (an
  unknown --dtype, a missing --config_file) raises ValueError naming the flag."""
  parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                          allow_abbrev=False)
  parser.add_argument("--config_file", required=True, help="the model's config (as given to run.py)")
  parser.add_argument("--checkpoint", required=True,
                      help="checkpoint prefix (logdir/model.ckpt-N) or a directory (its newest intact checkpoint)")
  parser.add_argument("--output_file", required=True, help="frozen GraphDef to write, e.g. jasper_infer_float32.pb")
  parser.add_argument("--dtype", default="float32", choices=sorted(EXPORT_DTYPES),
                      help="dtype of the weights and the computation; of the features input and the logits "
                           "too, except bfloat16 (float32 ends)")
  parser.add_argument("--fold_batch_norm", action=argparse.BooleanOptionalAction, default=True,
                      help="fold each batch norm into its convolution's weights and a bias (default); "
                           "--no-fold_batch_norm keeps the batch-norm ops of the training graph")
  parser.add_argument("--batch_size", type=positive_int, help="static batch size (default: any)")
  parser.add_argument("--num_frames", type=positive_int, help="static number of feature frames (default: any)")
  return parser


def frozen_checkpoint_graph(config_module, checkpoint, dtype="float32", batch_size=None, num_frames=None,
                            fold_batch_norm=True):
  """``(frozen GraphDef, {name: tensor})``: the config's inference graph with ``checkpoint`` restored into it and
  frozen, and its inputs and outputs (signature.py), for their shapes and dtypes. What ``export`` writes, and
  what the transcribe tool runs from a training logdir.

  As run.py's eval and infer modes, takes the moving averages of the weights when the config's infer-mode
  ``ema_decay`` is set and the checkpoint keeps them (``--ema_decay=0`` exports the raw weights instead).
  ``fold_batch_norm``: each batch norm folded into its convolution (parts/conv_block.py), the folded weights
  computed in float32 from the checkpoint's values and stored in ``dtype``.
  Raises CheckpointMismatchError (a ValueError) when the checkpoint lacks a weight of the model, holds it in
  another shape or holds weights the model lacks.
  """
  with tf.Graph().as_default():
    model = build_inference_model(config_module, dtype, batch_size, num_frames, fold_batch_norm)
    tensors = inference_tensors()
    restore = build_restore_fn(checkpoint, use_ema=bool(model.ema_decay))
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      restore(sess)
      graph_def = frozen_graph_def(sess, OUTPUT_NAMES)
  return graph_def, tensors


def export(config_module, checkpoint, output_file, dtype, batch_size, num_frames, fold_batch_norm=True):
  """Writes the ``frozen_checkpoint_graph`` of ``checkpoint`` to ``output_file``; returns ``{name: tensor}`` of the
  graph's inputs and outputs (signature.py). Raises as frozen_checkpoint_graph does, and OSError when the file
  cannot be written."""
  graph_def, tensors = frozen_checkpoint_graph(config_module, checkpoint, dtype, batch_size, num_frames,
                                               fold_batch_norm)
  write_graph_def(graph_def, output_file)
  return tensors


def main(argv=None):
  """Exports as the command line ``argv`` (default: sys.argv[1:]) says and logs the tensors; returns 0.

  Raises ValueError (bad config, override or checkpoint) or IOError (no checkpoint, unwritable output); ``cli``
  turns them into one ``*** Error:`` line.
  """
  argv = sys.argv[1:] if argv is None else argv
  args, overrides = build_parser().parse_known_args(argv)
  tf.disable_eager_execution()
  tf.logging.set_verbosity(tf.logging.ERROR)
  config_module = load_config_module(args.config_file)
  apply_cli_overrides(config_module["base_params"], overrides, args.config_file)
  checkpoint = resolve_checkpoint(args.checkpoint, "--checkpoint")
  deco_print("Exporting {} from {}".format(args.config_file, checkpoint))
  tensors = export(config_module, checkpoint, args.output_file, args.dtype, args.batch_size, args.num_frames,
                   args.fold_batch_norm)
  for kind, names in (("input", INPUT_NAMES), ("output", OUTPUT_NAMES)):
    for name in names:
      deco_print("{} {}:0 {} {}".format(kind, name, tensors[name].shape.as_list(), tensors[name].dtype.name),
                 offset=2)
  deco_print("Wrote {} ({:.1f} MB)".format(args.output_file, os.path.getsize(args.output_file) / 1e6))
  return 0


# The entry point of generate_pb/ckpt2pb.py and the console script jasper-ckpt2pb.
cli = one_line_errors()(main)

#!/usr/bin/env python
"""Inference speed of frozen Jasper graphs: real-time factor and utterances per second at batch 1 and 8 for
the mini and the 5x3 config, per export dtype (float32 and bfloat16 by default, random weights: the speed does
not depend on their values), each dtype's speed also as a ratio to float32 timed in the same run.

Each config is built on placeholders as generate_pb/ckpt2pb.py builds it, frozen with its initial weights,
written, loaded back through FrozenJasper (open_seq2seq/export/frozen_model.py) with the inference session
settings (distributed/session_config.py) and timed on random utterances of --num_frames frames (1600 = 16 s of
audio at a 10 ms stride). RTF = seconds per batch / seconds of audio in the batch. The dtypes of one config
and batch size are timed in turns (one run of each per round), so a neighbour's load falls on all of them.

    python bench/bench_inference.py [--configs mini,5x3] [--dtypes float32,bfloat16] [--batch_sizes 1,8]
                                    [--num_frames 1600] [--iterations 5]
"""
import argparse
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# TensorFlow reads TF_CPP_MIN_LOG_LEVEL once, when it is first imported
import numpy as np
import tensorflow.compat.v1 as tf

from bench.cpu_budget import timed_iterations, wait_for_idle_cpu
from open_seq2seq.distributed.session_config import inference_session_config
from open_seq2seq.export.freeze import frozen_graph_def, write_graph_def
from open_seq2seq.export.frozen_model import FrozenJasper
from open_seq2seq.export.inference_graph import build_inference_graph
from open_seq2seq.export.signature import EXPORT_DTYPES, OUTPUT_NAMES
from open_seq2seq.utils.cli import ArgumentParser
from open_seq2seq.utils.config import load_config_module

tf.disable_eager_execution()
CONFIGS = {
    "mini": "configs/speech2text/jasper_mini_nvgrad_masks.py",
    "5x3": "configs/speech2text/jasper5x3_LibriSpeech_nvgrad_masks_1p.py",
}
FRAME_SECONDS = 0.01
RELATIVE_UTILISATION = 0.9


# Batch-norm variables drawn away from their initial identity (gamma 1, beta 0, mean 0, variance 1), as in a
# trained model: with the initial values a folded batch norm adds a zero bias, which TensorFlow's optimizer
# removes, and the timed graph would lack the bias (and the fusions that hang on it) of a real export.
BATCH_NORM_DRAWS = {"gamma": (0.5, 1.5), "beta": (-0.1, 0.1), "moving_mean": (-0.1, 0.1),
                    "moving_variance": (0.5, 2.0)}


def freeze_random_model(config_file, path, dtype="float32", fold_batch_norm=True):
  """Writes the config's inference graph exported in ``dtype`` (a key of signature.EXPORT_DTYPES) with freshly
  initialised weights and batch-norm parameters drawn uniformly from BATCH_NORM_DRAWS to ``path``, as
  generate_pb/ckpt2pb.py --dtype would write it (``fold_batch_norm``: as inference_graph.py builds it). Raises
  ValueError for another dtype."""
  rng = np.random.default_rng(0)
  with tf.Graph().as_default():
    build_inference_graph(load_config_module(config_file), dtype, fold_batch_norm=fold_batch_norm)
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      for var in tf.global_variables():
        low_high = BATCH_NORM_DRAWS.get(var.op.name.rsplit("/", 1)[-1])
        if low_high is not None:
          var.load(rng.uniform(*low_high, var.shape.as_list()).astype(np.float32), sess)
      write_graph_def(frozen_graph_def(sess, OUTPUT_NAMES), path)


def kept_seconds(seconds, utilisation):
  """(median of the kept ``seconds``, kept count): runs within RELATIVE_UTILISATION of the best utilisation.

  A small batch cannot keep every core busy, so an absolute utilisation threshold would drop every run; runs
  well below the best one's utilisation are those a neighbour slowed down.
  """
  best = max(utilisation)
  kept = [s for s, u in zip(seconds, utilisation) if u >= RELATIVE_UTILISATION * best]
  return float(np.median(kept)), len(kept)


def time_in_turns(models, batch_size, num_frames, iterations):
  """Times ``models`` ({label: FrozenJasper}) on one batch of random utterances ``[num_frames, F]``: a warm-up
  run of each, then ``iterations`` rounds of one run of each in turn. Returns {label: (median seconds per batch
  of the kept runs, kept count, utilisation of each run)}."""
  rng = np.random.default_rng(0)
  num_features = next(iter(models.values())).num_features
  features = [rng.standard_normal([num_frames, num_features]).astype(np.float32) for _ in range(batch_size)]
  runs = {label: ([], []) for label in models}
  for model in models.values():
    model.run(features)
  for _ in range(iterations):
    for label, model in models.items():
      seconds, utilisation = timed_iterations(lambda model=model: model.run(features), 1, min_utilisation=0.0)
      runs[label][0].extend(seconds)
      runs[label][1].extend(utilisation)
  return {label: kept_seconds(*runs[label]) + (runs[label][1],) for label in models}


def main(argv=None):
  """Times the frozen graphs as the command line ``argv`` says and prints a Markdown table; returns 0. Raises
  ValueError for an unknown config or dtype."""
  parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--configs", default="mini,5x3", help="comma-separated, from {}".format(sorted(CONFIGS)))
  parser.add_argument("--dtypes", default="float32,bfloat16",
                      help="comma-separated export dtypes, from {}".format(sorted(EXPORT_DTYPES)))
  parser.add_argument("--batch_sizes", default="1,8")
  parser.add_argument("--num_frames", type=int, default=1600)
  parser.add_argument("--iterations", type=int, default=5)
  args = parser.parse_args(argv)
  tf.logging.set_verbosity(tf.logging.ERROR)
  names, dtypes = args.configs.split(","), args.dtypes.split(",")
  unknown = [name for name in names if name not in CONFIGS]
  if unknown:
    parser.error("--configs: choose from {}, got {}".format(sorted(CONFIGS), unknown))
  unknown = [dtype for dtype in dtypes if dtype not in EXPORT_DTYPES]
  if unknown:
    parser.error("--dtypes: choose from {}, got {}".format(sorted(EXPORT_DTYPES), unknown))
  batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
  results = []
  with tempfile.TemporaryDirectory() as tmp_dir:
    for name in names:
      models = {}
      for dtype in dtypes:
        path = os.path.join(tmp_dir, "{}_{}.pb".format(name, dtype))
        freeze_random_model(CONFIGS[name], path, dtype)
        models[dtype] = FrozenJasper(path, inference_session_config())
      for batch_size in batch_sizes:
        load = wait_for_idle_cpu()
        timed = time_in_turns(models, batch_size, args.num_frames, args.iterations)
        for dtype, (seconds, kept, utilisation) in timed.items():
          print("{} {} B={}: {:.3f} s per batch, utilisation {}".format(
              name, dtype, batch_size, seconds, ["{:.2f}".format(u) for u in utilisation]), flush=True)
          results.append((name, dtype, batch_size, seconds, kept, load, timed.get("float32", (None,))[0]))
      for model in models.values():
        model.close()
  audio = args.num_frames * FRAME_SECONDS
  print("\nFrozen graphs, T={} frames ({:.0f} s of audio), {} cores, TensorFlow {}".format(
      args.num_frames, audio, os.cpu_count(), tf.__version__))
  print("| config | dtype | batch | seconds per batch | speed vs float32 | utterances/s | real-time factor | "
        "kept runs | CPU load before |")
  print("|---|---|---|---|---|---|---|---|---|")
  for name, dtype, batch_size, seconds, kept, load, baseline in results:
    print("| {} | {} | {} | {:.3f} | {} | {:.2f} | {:.4f} | {}/{} | {:.0%} |".format(
        name, dtype, batch_size, seconds, "{:.2f}x".format(baseline / seconds) if baseline else "-",
        batch_size / seconds, seconds / (batch_size * audio), kept, args.iterations, load))
  return 0


if __name__ == "__main__":
  sys.exit(main())

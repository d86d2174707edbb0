#!/usr/bin/env python
"""Inference speed of frozen Jasper graphs: real-time factor and utterances per second at batch 1 and 8 for
the mini and the 5x3 config (float32, random weights: the speed does not depend on their values).

Each config is built on placeholders as generate_pb/ckpt2pb.py builds it, frozen with its initial weights,
written, loaded back through FrozenJasper (open_seq2seq/export/frozen_model.py) and timed on random utterances
of --num_frames frames (1600 = 16 s of audio at a 10 ms stride). RTF = seconds per batch / seconds of audio in
the batch.

    python bench/bench_inference.py [--configs mini,5x3] [--batch_sizes 1,8] [--num_frames 1600] [--iterations 5]
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
from open_seq2seq.export.freeze import frozen_graph_def, write_graph_def
from open_seq2seq.export.frozen_model import FrozenJasper
from open_seq2seq.export.inference_graph import build_inference_graph
from open_seq2seq.export.signature import OUTPUT_NAMES
from open_seq2seq.utils.config import load_config_module

tf.disable_eager_execution()
CONFIGS = {
    "mini": "configs/speech2text/jasper_mini_nvgrad_masks.py",
    "5x3": "configs/speech2text/jasper5x3_LibriSpeech_nvgrad_masks_1p.py",
}
FRAME_SECONDS = 0.01
RELATIVE_UTILISATION = 0.9


def freeze_random_model(config_file, path):
  """Writes the config's float32 inference graph with freshly initialised weights to ``path``."""
  with tf.Graph().as_default():
    build_inference_graph(load_config_module(config_file), "float32")
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      write_graph_def(frozen_graph_def(sess, OUTPUT_NAMES), path)


def time_batches(model, batch_size, num_frames, iterations):
  """(median seconds per batch of the kept runs, kept count, utilisation of each run), after a warm-up run."""
  rng = np.random.default_rng(0)
  features = [rng.standard_normal([num_frames, model.num_features]).astype(np.float32) for _ in range(batch_size)]
  model.run(features)
  seconds, utilisation = timed_iterations(lambda: model.run(features), iterations, min_utilisation=0.0)
  # A small batch cannot keep every core busy, so an absolute utilisation threshold would drop every run;
  # runs well below the best one's utilisation are those a neighbour slowed down.
  kept = [s for s, u in zip(seconds, utilisation) if u >= RELATIVE_UTILISATION * max(utilisation)]
  return float(np.median(kept)), len(kept), utilisation


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--configs", default="mini,5x3", help="comma-separated, from {}".format(sorted(CONFIGS)))
  parser.add_argument("--batch_sizes", default="1,8")
  parser.add_argument("--num_frames", type=int, default=1600)
  parser.add_argument("--iterations", type=int, default=5)
  args = parser.parse_args(argv)
  tf.logging.set_verbosity(tf.logging.ERROR)
  names = args.configs.split(",")
  unknown = [name for name in names if name not in CONFIGS]
  if unknown:
    parser.error("--configs: choose from {}, got {}".format(sorted(CONFIGS), unknown))
  batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
  results = []
  with tempfile.TemporaryDirectory() as tmp_dir:
    for name in names:
      path = os.path.join(tmp_dir, name + ".pb")
      freeze_random_model(CONFIGS[name], path)
      model = FrozenJasper(path)
      for batch_size in batch_sizes:
        load = wait_for_idle_cpu()
        seconds, kept, utilisation = time_batches(model, batch_size, args.num_frames, args.iterations)
        print("{} B={}: {:.3f} s per batch, utilisation {}".format(
            name, batch_size, seconds, ["{:.2f}".format(u) for u in utilisation]), flush=True)
        results.append((name, batch_size, seconds, kept, load))
      model.close()
  audio = args.num_frames * FRAME_SECONDS
  print("\nFrozen float32 graphs, T={} frames ({:.0f} s of audio), {} cores, TensorFlow {}".format(
      args.num_frames, audio, os.cpu_count(), tf.__version__))
  print("| config | batch | seconds per batch | utterances/s | real-time factor | kept runs | CPU load before |")
  print("|---|---|---|---|---|---|---|")
  for name, batch_size, seconds, kept, load in results:
    print("| {} | {} | {:.3f} | {:.2f} | {:.4f} | {}/{} | {:.0%} |".format(
        name, batch_size, seconds, batch_size / seconds, seconds / (batch_size * audio), kept, args.iterations,
        load))
  return 0


if __name__ == "__main__":
  sys.exit(main())

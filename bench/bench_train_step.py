#!/usr/bin/env python
"""Training-step time of the Jasper 5x3 model at batch 8 and 1600 frames for float32, mixed float16 and
bfloat16, each as a speed ratio to float32 measured in the same run (synthetic features, so only the model
is timed).

    python bench/bench_train_step.py [--batch_size 8] [--num_frames 1600] [--steps 3]
                                     [--dtypes float32,mixed,bfloat16]
"""
import argparse
import os
import sys

import numpy as np
import tensorflow.compat.v1 as tf

from bench.cpu_budget import timed_iterations, wait_for_idle_cpu
from open_seq2seq.data.speech2text.synthetic import SyntheticSpeech2TextDataLayer
from open_seq2seq.utils.config import load_config_module, mode_config
from open_seq2seq.utils.precision import MIXED_DTYPES

tf.disable_eager_execution()
DTYPES = ("float32",) + MIXED_DTYPES


def step_params(config_module, dtype, batch_size, num_frames, steps):
  params = mode_config(config_module, "train")
  params.update(dtype=dtype, batch_size_per_gpu=batch_size, max_steps=steps, logdir="",
                print_loss_steps=None, print_samples_steps=None, save_summaries_steps=None,
                save_checkpoint_steps=None, data_layer=SyntheticSpeech2TextDataLayer,
                data_layer_params={"num_audio_features": params["data_layer_params"]["num_audio_features"],
                                   "vocab_file": params["data_layer_params"]["vocab_file"],
                                   "num_frames": num_frames, "label_length": 100})
  params.pop("num_epochs", None)
  return params


def seconds_per_step(config_module, dtype, args):
  """Median wall seconds of the kept steps (after one warm-up step), kept count, utilisations."""
  with tf.Graph().as_default():
    model = config_module["base_model"](
        params=step_params(config_module, dtype, args.batch_size, args.num_frames, args.steps + 1), mode="train")
    model.compile()
    with tf.Session() as session:
      session.run([tf.global_variables_initializer(), model.get_data_layer().iterator.initializer])
      session.run(model.train_op)
      kept, utilisation = timed_iterations(lambda: session.run(model.train_op), args.steps)
      print("utilisation per step: {}".format(["{:.2f}".format(u) for u in utilisation]), flush=True)
  return (float(np.median(kept)) if kept else float("nan")), len(kept), utilisation


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--config_file", default="configs/speech2text/jasper5x3_LibriSpeech_nvgrad_masks_1p.py")
  parser.add_argument("--batch_size", type=int, default=8)
  parser.add_argument("--num_frames", type=int, default=1600)
  parser.add_argument("--steps", type=int, default=3)
  parser.add_argument("--dtypes", default="float32,mixed,bfloat16")
  args = parser.parse_args(argv)
  dtypes = args.dtypes.split(",")
  unknown = [dtype for dtype in dtypes if dtype not in DTYPES]
  if unknown or "float32" not in dtypes:
    parser.error("--dtypes: choose from {} and include float32 (the baseline); got {}".format(sorted(DTYPES),
                                                                                              args.dtypes))
  config_module = load_config_module(args.config_file)
  results = {}
  for dtype in dtypes:
    load = wait_for_idle_cpu()
    results[dtype] = seconds_per_step(config_module, dtype, args) + (load,)
    print("{}: {:.2f} s per step".format(dtype, results[dtype][0]), flush=True)
  baseline = results["float32"][0]
  print("\n{} B={} T={}, {} cores, TensorFlow {}".format(os.path.basename(args.config_file), args.batch_size,
                                                        args.num_frames, os.cpu_count(), tf.__version__))
  print("| dtype | seconds per step | speed vs float32 | kept steps | CPU load before |")
  print("|---|---|---|---|---|")
  for dtype, (seconds, kept, _, load) in results.items():
    print("| {} | {:.2f} | {:.2f}x | {}/{} | {:.0%} |".format(dtype, seconds, baseline / seconds, kept, args.steps,
                                                           load))
  return 0


if __name__ == "__main__":
  sys.exit(main())

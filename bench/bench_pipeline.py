#!/usr/bin/env python
"""Does the data pipeline keep up with training? Batch rate of the training data layer against the
training-step rate of the Jasper 5x3 model, both at batch 32, measured in the same run.

LibriSpeech utterances average ~12 s, the mini corpus' ~3 s, so the benchmark first joins consecutive
mini-corpus utterances into 8-16 s files (LibriSpeech-like lengths, under the 5x3 config's 16.63 s limit)
and uses the 5x3 config's training data-layer parameters (features, SpecAugment, static 1664-frame padding)
for both measurements. Goal: the pipeline delivers >= 10x the batches the training step consumes.
``--augmentation_from CONFIG`` replaces the data layer's augmentation by that config's training augmentation
(e.g. the mini config's waveform augmentation), to see what it costs the pipeline.

    python bench/bench_pipeline.py [--corpus_csv data/mini_librispeech/librivox-train-clean-100.csv]
                                   [--batch_size 32] [--pipeline_batches 20] [--train_steps 2]
                                   [--augmentation_from configs/speech2text/jasper_mini_nvgrad_masks.py]
"""
import argparse
import copy
import os
import sys
import tempfile

import numpy as np
import soundfile as sf
import tensorflow.compat.v1 as tf

from bench.cpu_budget import timed_iterations, wait_for_idle_cpu
from open_seq2seq.data.speech2text.manifest import read_manifests
from open_seq2seq.utils.config import load_config_module, mode_config

tf.disable_eager_execution()
RATE = 16000


def write_long_utterances(corpus_csv, out_dir, count, seed=0):
  """Joins consecutive utterances of ``corpus_csv`` into ``count`` files of 8-16 s; returns their manifest."""
  rows = read_manifests([corpus_csv])
  rng = np.random.default_rng(seed)
  lines, cursor = ["wav_filename,wav_filesize,transcript"], 0
  for index in range(count):
    target = rng.uniform(8.0, 16.0) * RATE
    pieces, words = [], []
    while sum(len(p) for p in pieces) < target:
      row = rows[cursor % len(rows)]
      cursor += 1
      samples, rate = sf.read(row.path, dtype="int16")
      if rate != RATE:
        raise ValueError("{}: {} Hz, expected {} Hz".format(row.wav_filename, rate, RATE))
      pieces.append(samples)
      words.append(row.transcript)
    path = os.path.join(out_dir, "long{}.wav".format(index))
    sf.write(path, np.concatenate(pieces)[:int(16.5 * RATE)], RATE, subtype="PCM_16")
    lines.append("{},{},{}".format(os.path.basename(path), os.path.getsize(path), " ".join(words)))
  manifest = os.path.join(out_dir, "long.csv")
  with open(manifest, "w") as handle:
    handle.write("\n".join(lines) + "\n")
  return manifest


def training_params(config_file, manifest, batch_size, steps, dtype, augmentation_from=None):
  params = mode_config(load_config_module(config_file), "train")
  if augmentation_from:
    augmentation = mode_config(load_config_module(augmentation_from), "train")["data_layer_params"]["augmentation"]
    params["data_layer_params"]["augmentation"] = augmentation
  params.update(batch_size_per_gpu=batch_size, max_steps=steps, logdir="", dtype=dtype, print_loss_steps=None,
                print_samples_steps=None, save_summaries_steps=None, save_checkpoint_steps=None)
  params.pop("num_epochs", None)
  data_params = params["data_layer_params"]
  data_params["dataset_files"] = [manifest]
  # Joined transcripts exceed the Ascend config's 96-character label limit; features stay static-shaped.
  data_params.pop("max_label_length", None)
  return params


def seconds_per_batch(fetch, session, batches, warmup):
  for _ in range(warmup):
    session.run(fetch)
  kept, utilisation = timed_iterations(lambda: session.run(fetch), batches)
  return (float(np.median(kept)) if kept else float("nan")), len(kept), utilisation


def pipeline_seconds_per_batch(params, batches):
  data_params = copy.deepcopy(params["data_layer_params"])
  data_params.update(mode="train", batch_size=params["batch_size_per_gpu"], random_seed=0)
  with tf.Graph().as_default():
    data_layer = params["data_layer"](data_params, None)
    data_layer.build_graph()
    with tf.Session() as session:
      session.run(data_layer.iterator.initializer)
      return seconds_per_batch(data_layer.input_tensors, session, batches, warmup=3)


def training_seconds_per_step(base_model, params, steps):
  with tf.Graph().as_default():
    model = base_model(params=params, mode="train")
    model.compile()
    with tf.Session() as session:
      session.run([tf.global_variables_initializer(), tf.local_variables_initializer(),
                   model.get_data_layer().iterator.initializer])
      return seconds_per_batch(model.train_op, session, steps, warmup=1)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--config_file", default="configs/speech2text/jasper5x3_LibriSpeech_nvgrad_masks_1p.py")
  parser.add_argument("--corpus_csv", default="data/mini_librispeech/librivox-train-clean-100.csv")
  parser.add_argument("--batch_size", type=int, default=32)
  parser.add_argument("--pipeline_batches", type=int, default=20)
  parser.add_argument("--train_steps", type=int, default=2)
  parser.add_argument("--dtype", default="float32", help="model dtype of the training step (float32 or mixed)")
  parser.add_argument("--augmentation_from", help="config whose training augmentation the data layer uses")
  args = parser.parse_args(argv)
  if not os.path.isfile(args.corpus_csv):
    parser.error("--corpus_csv {} not found; build the mini corpus first (scripts/run_mini_demo.sh or "
                 "scripts/build_mini_corpus.py)".format(args.corpus_csv))
  with tempfile.TemporaryDirectory() as out_dir:
    manifest = write_long_utterances(args.corpus_csv, out_dir, count=4 * args.batch_size)
    dtype = tf.float32 if args.dtype == "float32" else args.dtype
    params = training_params(args.config_file, manifest, args.batch_size, args.train_steps + 1, dtype,
                             args.augmentation_from)
    load = wait_for_idle_cpu()
    print("other CPU load before start: {:.0%}; {} cores; batch {}".format(load, os.cpu_count(), args.batch_size))
    batch_s, batch_kept, _ = pipeline_seconds_per_batch(params, args.pipeline_batches)
    print("data pipeline: {:.3f} s per batch".format(batch_s), flush=True)
    base_model = load_config_module(args.config_file)["base_model"]
    step_s, step_kept, _ = training_seconds_per_step(base_model, params, args.train_steps)
  print("| measurement | seconds per batch | batches per second | kept iterations |")
  print("|---|---|---|---|")
  print("| data pipeline (all cores) | {:.3f} | {:.2f} | {}/{} |".format(batch_s, 1 / batch_s, batch_kept,
                                                                     args.pipeline_batches))
  print("| 5x3 training step ({}) | {:.2f} | {:.4f} | {}/{} |".format(args.dtype, step_s, 1 / step_s, step_kept,
                                                                     args.train_steps))
  print("pipeline batch rate / training step rate: {:.1f}x (goal >= 10x)".format(step_s / batch_s))
  return 0


if __name__ == "__main__":
  sys.exit(main())

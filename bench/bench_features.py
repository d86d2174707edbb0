#!/usr/bin/env python
"""Feature extraction throughput (seconds of audio per wall second, one thread) for every backend and input
type, as a ratio to the librosa logfbank baseline (Jasper's features) measured in the same run.

    python bench/bench_features.py [--corpus_csv data/mini_librispeech/librivox-dev-clean.csv] [--utterances 100]
"""
import argparse
import os
import sys

import numpy as np

from bench.cpu_budget import timed_iterations, wait_for_idle_cpu
from open_seq2seq.data.speech2text.audio import read_audio
from open_seq2seq.data.speech2text.features import INPUT_TYPES, speech_features
from open_seq2seq.data.speech2text.manifest import read_manifests
from open_seq2seq.data.speech2text.psf_features import psf_speech_features


def load_signals(corpus_csv, count):
  if corpus_csv and os.path.isfile(corpus_csv):
    return [read_audio(row.path, 16000) for row in read_manifests([corpus_csv])[:count]], corpus_csv
  rng = np.random.default_rng(0)
  return [(rng.standard_normal(48000) * 3000).astype(np.float32) for _ in range(count)], "synthetic 3 s noise"


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("--corpus_csv", default="data/mini_librispeech/librivox-dev-clean.csv")
  parser.add_argument("--utterances", type=int, default=100)
  parser.add_argument("--repeats", type=int, default=5)
  args = parser.parse_args(argv)
  signals, source = load_signals(args.corpus_csv, args.utterances)
  audio_seconds = sum(len(s) for s in signals) / 16000.0
  other_load = wait_for_idle_cpu()
  print("audio: {} utterances, {:.1f} s ({}); other CPU load before start: {:.0%}".format(
      len(signals), audio_seconds, source, other_load))
  extractors = {
      "librosa": lambda signal, kind, count: speech_features(signal, 16000, count, kind, norm_per_feature=True),
      "psf": lambda signal, kind, count: psf_speech_features(signal, 16000, count, kind),
  }
  results = {}
  for backend, extract in extractors.items():
    for input_type in INPUT_TYPES:
      num_features = 64 if input_type != "mfcc" else 40

      def run_once(extract=extract, kind=input_type, count=num_features):
        for signal in signals:
          extract(signal, kind, count)

      kept, utilisation = timed_iterations(run_once, args.repeats, threads=1)
      rate = audio_seconds / np.median(kept) if kept else float("nan")
      results[backend, input_type] = (rate, len(kept), utilisation)
  baseline = results["librosa", "logfbank"][0]
  print("| backend | input type | audio s per wall s (1 thread) | ratio to librosa logfbank | kept iterations |")
  print("|---|---|---|---|---|")
  for (backend, input_type), (rate, kept, _) in results.items():
    print("| {} | {} | {:.0f} | {:.2f} | {}/{} |".format(backend, input_type, rate, rate / baseline, kept,
                                                         args.repeats))
  return 0


if __name__ == "__main__":
  sys.exit(main())

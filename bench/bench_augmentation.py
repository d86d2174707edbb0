#!/usr/bin/env python
"""Cost of each train-time augmentation per 4-s utterance (one thread), as a ratio to the plain librosa
logfbank feature computation (64 features, the mini config's) measured in the same run; then the whole chain
(signal augmentations, VTLP, features, SpecAugment) at the recommended probabilities. Goal: the chain adds
<= ~50 % to the feature computation on average. Costs are CPU time of one thread (see ``paired_cpu_ms``).

    python bench/bench_augmentation.py [--corpus_csv data/mini_librispeech/librivox-train-clean-100.csv]
                                       [--utterances 40] [--repeats 5] [--chain_draws 5] [--rir_cache_dir DIR]

Utterances are corpus utterances joined and cut to exactly 4 s (synthetic voiced 4-s signals without a corpus).
The room bank is simulated once into ``--rir_cache_dir`` (default: beside the corpus CSV, as the data layer
does); its one-off simulation time is printed separately.
"""
import argparse
import functools
import os
import sys
import tempfile
import time

# One thread per utterance, as a data-pipeline thread runs it (and no BLAS threads spinning on CPU time).
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
  os.environ.setdefault(_name, "1")
# numpy's BLAS reads the thread counts once, when it is first imported
import librosa
import numpy as np
import soundfile as sf

from bench.cpu_budget import thread_cpu_time, wait_for_idle_cpu
from open_seq2seq.data.speech2text.audio import read_audio
from open_seq2seq.data.speech2text.augmentation import (
    SignalAugmenter, setting, spec_augment)
from open_seq2seq.data.speech2text.augmentation import room_impulse
from open_seq2seq.data.speech2text.features import speech_features
from open_seq2seq.data.speech2text.manifest import read_manifests

RATE = 16000
SECONDS = 4.0
MASKS = {"n_freq_mask": 2, "width_freq_mask": 6, "n_time_mask": 2, "width_time_mask": 6}
RECOMMENDED = dict(MASKS, speed_perturbation_ratio=[0.9, 1.0, 1.1], reverb_prob=0.25, noise_prob=0.25, babble_prob=0.1,
                   telephone_prob=0.1, filter_prob=0.2, eq_prob=0.2, gain_prob=0.2, vtlp_prob=0.5)
FEATURES = "features (librosa logfbank, 64)"
VTLP = "VTLP (features with a warped filterbank)"
TIME_STRETCH = "not used: librosa.effects.time_stretch (rate 1.1)"
PITCH_SHIFT = "not used: librosa.effects.pitch_shift (1 semitone)"
STAGES = (
    ("speed perturbation (0.9 or 1.1)", {"speed_perturbation_ratio": [0.9, 1.1]}),
    ("reverb (RT60 0.15-0.7 s)", {"reverb_prob": 1.0}),
    ("noise, white", {"noise_prob": 1.0, "noise_colors": ["white"]}),
    ("noise, pink", {"noise_prob": 1.0, "noise_colors": ["pink"]}),
    ("noise, blue", {"noise_prob": 1.0, "noise_colors": ["blue"]}),
    ("babble (3-7 utterances read)", {"babble_prob": 1.0}),
    ("telephone (8 kHz round trip + high-pass)", {"telephone_prob": 1.0}),
    ("codec: AMR-NB, random mode (two sox processes)", {"codec_prob": 1.0, "codecs": ["amr-nb"]}),
    ("codec: G.711 mu-law (two sox processes)", {"codec_prob": 1.0, "codecs": ["g711"]}),
    ("Butterworth low/high/band-pass", {"filter_prob": 1.0}),
    ("peaking EQ (1-3 bands)", {"eq_prob": 1.0}),
    ("gain", {"gain_prob": 1.0}),
)


CHAINS = (("whole chain at the recommended probabilities, without speed perturbation",
           dict(RECOMMENDED, speed_perturbation_ratio=None)),
          ("whole chain at the recommended probabilities, with speed perturbation [0.9, 1.0, 1.1]", RECOMMENDED))


def four_second_signals(corpus_csv, count):
  """``count`` 4-s float32 int16-range signals: consecutive corpus utterances joined and cut, or synthetic."""
  length = int(SECONDS * RATE)
  if corpus_csv and os.path.isfile(corpus_csv):
    rows = read_manifests([corpus_csv])
    signals, cursor = [], 0
    while len(signals) < count:
      pieces = []
      while sum(len(p) for p in pieces) < length:
        pieces.append(read_audio(rows[cursor % len(rows)].path, RATE))
        cursor += 1
      signals.append(np.concatenate(pieces)[:length])
    return signals, corpus_csv
  rng = np.random.default_rng(0)
  t = np.arange(length) / RATE
  signals = []
  for _ in range(count):
    f0 = rng.uniform(90, 220) * (1 + 0.1 * np.sin(2 * np.pi * 0.5 * t))
    voiced = sum(np.sin(2 * np.pi * k * np.cumsum(f0) / RATE) / k for k in range(1, 30))
    envelope = np.maximum(0, np.sin(2 * np.pi * rng.uniform(2, 5) * t)) ** 2
    signals.append((voiced * envelope * 8000 + rng.standard_normal(length) * 30).astype(np.float32))
  return signals, "synthetic voiced 4-s signals"


def paired_cpu_ms(jobs, baseline, repeats):
  """``({name: (ms per call, ratio to the baseline, the baseline's ms in those pairs)}, baseline ms)`` for
  ``jobs`` (name -> list of ``(utterance index, call)``) against ``baseline`` (utterance index -> call).

  Every call runs right after the baseline call of its utterance and both are timed by the thread's CPU
  time (with that of the child processes a call waits for, ``cpu_budget.thread_cpu_time``), so each pair meets the same
  neighbours: on this machine, shared with a training run (possibly on the sibling hyperthread), whole passes
  timed apart drifted by up to 1 ms per utterance, and the wall-time filter of ``cpu_budget.timed_iterations``
  dropped nearly every pass. A job's ratio is the sum of its
  times over the sum of its baselines' times; ms and ratio are medians over ``repeats`` rounds.
  """
  for calls in jobs.values():  # warm-up: filter designs, filterbanks, room bank, page cache of the babble files
    for _, call in calls:
      call()
  job_ms, ratios, base_ms = ({name: [] for name in jobs} for _ in range(3))
  for _ in range(repeats):
    for name, calls in jobs.items():
      base_total = job_total = 0.0
      for index, call in calls:
        start = thread_cpu_time()
        baseline[index]()
        middle = thread_cpu_time()
        call()
        base_total, job_total = base_total + middle - start, job_total + thread_cpu_time() - middle
      job_ms[name].append(job_total * 1000 / len(calls))
      ratios[name].append(job_total / base_total)
      base_ms[name].append(base_total * 1000 / len(calls))
  results = {name: tuple(float(np.median(values[name])) for values in (job_ms, ratios, base_ms)) for name in jobs}
  return results, float(np.median([ms for values in base_ms.values() for ms in values]))


def features(signal, rng=None, vtlp_alpha=1.0):
  return speech_features(signal, RATE, 64, "logfbank", dither=1e-5, norm_per_feature=True, rng=rng,
                         vtlp_alpha=vtlp_alpha)


def chain(augmenter, augmentation, signal, seed, path):
  """What the data layer does to one training utterance: the signal chain on the peak-normalised signal,
  features with the drawn VTLP factor, SpecAugment."""
  rng = np.random.default_rng(seed)
  peak = np.max(np.abs(signal)) + 1e-5
  augmented = augmenter(signal / peak, rng, path) * peak
  return spec_augment(features(augmented, rng, augmenter.vtlp_alpha(rng)), augmentation, rng)


def build_jobs(signals, paths, rir_dir, chain_draws):
  """name -> [(utterance index, call)]: each augmentation alone (on the peak-normalised signal, probability
  1), VTLP features, SpecAugment, librosa's tempo and pitch, and the whole chain at the recommended
  probabilities over ``chain_draws`` seeds per utterance."""

  def read(path):
    return read_audio(path, RATE)

  normalised = [s / (np.max(np.abs(s)) + 1e-5) for s in signals]
  jobs = {}
  for name, augmentation in STAGES:
    augmenter = SignalAugmenter(augmentation, RATE, paths, read, rir_dir)
    jobs[name] = [(i, functools.partial(lambda a, s, i: a(s, np.random.default_rng(i), paths[i]), augmenter, s, i))
                  for i, s in enumerate(normalised)]
  jobs[VTLP] = [(i, functools.partial(features, s, np.random.default_rng(i), 0.9 + 0.05 * (i % 5)))
                for i, s in enumerate(signals)]
  jobs["SpecAugment (2 + 2 masks)"] = [
      (i, functools.partial(spec_augment, np.ones((401, 64), np.float32), MASKS, np.random.default_rng(i)))
      for i in range(len(signals))]
  # Not in the chain: too slow per utterance (phase vocoders); measured so the choice stays checkable.
  jobs[TIME_STRETCH] = [(i, functools.partial(librosa.effects.time_stretch, s, rate=1.1))
                        for i, s in enumerate(normalised)]
  jobs[PITCH_SHIFT] = [(i, functools.partial(librosa.effects.pitch_shift, s, sr=RATE, n_steps=1.0))
                       for i, s in enumerate(normalised)]
  for name, augmentation in CHAINS:
    augmenter = SignalAugmenter(augmentation, RATE, paths, read, rir_dir)
    jobs[name] = [(i, functools.partial(chain, augmenter, augmentation, s, 1000 * draw + i, paths[i]))
                  for draw in range(chain_draws) for i, s in enumerate(signals)]
  return jobs


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--corpus_csv", default="data/mini_librispeech/librivox-train-clean-100.csv")
  parser.add_argument("--utterances", type=int, default=40)
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--chain_draws", type=int, default=5, help="seeds per utterance for the whole chain")
  parser.add_argument("--rir_cache_dir", default=None)
  args = parser.parse_args(argv)
  signals, source = four_second_signals(args.corpus_csv, args.utterances)
  with tempfile.TemporaryDirectory() as out_dir:
    paths = []
    for index, signal in enumerate(signals):
      paths.append(os.path.join(out_dir, "utt{}.wav".format(index)))
      sf.write(paths[-1], signal.astype(np.int16), RATE, subtype="PCM_16")
    rir_dir = args.rir_cache_dir or (os.path.join(os.path.dirname(os.path.abspath(args.corpus_csv)), "rir_cache")
                                     if os.path.isfile(args.corpus_csv) else os.path.join(out_dir, "rir_cache"))
    start = time.perf_counter()
    room_impulse.rir_bank(rir_dir, setting({}, "rt60_range"), setting({}, "rir_bank_size"),
                          setting({}, "rir_bank_seed"), RATE)
    bank_s = time.perf_counter() - start
    load = wait_for_idle_cpu()
    print("{} utterances of {:.0f} s ({}); other CPU load before start: {:.0%}; room bank ready in {:.1f} s "
          "(simulated once, then read from {})".format(len(signals), SECONDS, source, load, bank_s, rir_dir))
    baseline = [functools.partial(features, s, np.random.default_rng(i)) for i, s in enumerate(signals)]
    results, base_ms = paired_cpu_ms(build_jobs(signals, paths, rir_dir, args.chain_draws), baseline, args.repeats)
  print("| step | CPU ms per 4-s utterance | ratio to features (paired) |")
  print("|---|---|---|")
  print("| {} | {:.2f} | 1.00 |".format(FEATURES, base_ms))
  for name, (ms, ratio, paired_base_ms) in results.items():
    if name == VTLP or name in dict(CHAINS):  # costs on top of the features they include
      name, ms, ratio = name + ", added", ms - paired_base_ms, ratio - 1.0
    print("| {} | {:.2f} | {:.2f} |".format(name, ms, ratio))
  added = {key: [] for key in ("vtlp_prob",)}
  for name, augmentation in STAGES:
    for key in augmentation:
      if key.endswith("_prob"):
        added.setdefault(key, []).append(results[name][1])
  added["vtlp_prob"].append(results[VTLP][1] - 1.0)
  expected = sum(RECOMMENDED.get(key, 0.0) * np.mean(ratios) for key, ratios in added.items())
  print("expected added cost of the new keys from the rows above: sum of probability x ratio = {:.2f} x features "
        "(noise at the mean of its white/pink/blue rows)".format(expected))
  print("recommended: {}".format(RECOMMENDED))
  return 0


if __name__ == "__main__":
  sys.exit(main())

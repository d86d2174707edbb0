#!/usr/bin/env python
"""One measurement of bench/lm_scale.py, in a process of its own so that models of different sizes do not share
memory: one decoding backend loads one word LM, then CTC-beam-search decodes a fixed set of real logits with it.
Prints one JSON line: load seconds, resident memory before and after the load (and the peak), per decoding pass
of all utterances its wall seconds and CPU utilisation, and the last pass's transcripts.

Backends: the two of ``--lm_backend`` (open_seq2seq/decoders/lm_backends.py), as scripts/decode.py runs them:
``in_house`` (the ARPA reader, WordScorer and ctc_beam_search) and pyctcdecode over a KenLM model read from the
ARPA text (``pyctcdecode_arpa``) or from build_binary's file (``pyctcdecode_binary``), with the same alpha, beta,
unknown-word offset and pruning flags.

    python bench/lm_scale_probe.py --backend in_house --lm lm.arpa --logits dev_logits.npz --vocab vocab.txt
"""
import argparse
import json
import sys
import time

from open_seq2seq.data.speech2text.logits_file import read_logits
from open_seq2seq.data.vocab import load_labels
from open_seq2seq.decoders.ctc_beam_search import log_softmax
from open_seq2seq.decoders.lm_backends import load_lm, make_beam_search

BACKENDS = ("in_house", "pyctcdecode_arpa", "pyctcdecode_binary")
# scripts/decode.py's pruning defaults, for both backends.
CUTOFF_PROB = 0.9999
CUTOFF_TOP_N = 40


def memory_kib():
  """(resident, peak resident) KiB of this process, from /proc/self/status."""
  values = {}
  with open("/proc/self/status") as handle:
    for line in handle:
      key, _, rest = line.partition(":")
      if key in ("VmRSS", "VmHWM"):
        values[key] = int(rest.split()[0])
  return values["VmRSS"], values["VmHWM"]


class Backend:
  """One ``--lm_backend``'s search over one LM; a fresh search (its memo of LM scores empty) per pass, as a new
  decode.py run starts with."""

  def __init__(self, args, labels):
    self.args, self.labels = args, labels
    self.lm_backend = "in_house" if args.backend == "in_house" else "pyctcdecode"
    self.language_model, _ = load_lm(self.lm_backend, args.lm, labels)
    self.new_pass()

  def new_pass(self):
    """A fresh search over the loaded LM."""
    self.search = make_beam_search(self.lm_backend, self.labels, self.language_model,
                                   beam_width=self.args.beam_width, cutoff_prob=CUTOFF_PROB,
                                   cutoff_top_n=CUTOFF_TOP_N, unknown_word_offset=self.args.unknown_word_offset)

  def decode(self, log_probs):
    """The best transcript of one utterance."""
    beams = self.search(log_probs, self.args.alpha, self.args.beta)
    return beams[0][0] if beams else ""


def parse_args(argv):
  """The probe's command line."""
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--backend", choices=BACKENDS, required=True)
  parser.add_argument("--lm", required=True, help="ARPA file (in_house, pyctcdecode_arpa) or KenLM binary")
  parser.add_argument("--logits", required=True, help="logits .npz of run.py --mode=infer")
  parser.add_argument("--vocab", required=True, help="character vocabulary of the model")
  add_decoding_arguments(parser)
  return parser.parse_args(argv)


def add_decoding_arguments(parser):
  """The decoding flags a measurement takes, which bench/lm_scale.py passes on to each probe."""
  parser.add_argument("--utterances", type=int, default=40, help="the first N utterances of --logits")
  parser.add_argument("--passes", type=int, default=3, help="decoding passes over the utterances")
  parser.add_argument("--beam_width", type=int, default=128)
  parser.add_argument("--alpha", type=float, default=0.7)
  parser.add_argument("--beta", type=float, default=0.0)
  parser.add_argument("--unknown_word_offset", type=float, default=-15.0)


def main(argv=None):
  """Loads, decodes and prints the JSON line; returns 0."""
  args = parse_args(argv)
  labels = load_labels(args.vocab)
  dump = read_logits(args.logits, labels=labels)
  names = list(dump.logits)[:args.utterances]
  logits = [dump.logits[name] for name in names]
  log_probs = [log_softmax(array).astype("float32") for array in logits]
  frames = sum(len(array) for array in logits)
  resident_before, _ = memory_kib()
  started = time.perf_counter()
  backend = Backend(args, labels)
  load_s = time.perf_counter() - started
  resident_after, peak = memory_kib()
  passes = []
  for _ in range(args.passes):
    backend.new_pass()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    transcripts = [backend.decode(array) for array in log_probs]
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    passes.append({"seconds": wall, "utilisation": cpu / wall if wall > 0 else 0.0})
  print(json.dumps({"backend": args.backend, "load_s": load_s, "rss_before_kib": resident_before,
                    "rss_after_kib": resident_after, "rss_peak_kib": peak, "utterances": len(logits),
                    "frames": frames, "step_size": dump.step_size, "passes": passes,
                    "wav_filenames": names, "transcripts": transcripts}))
  return 0


if __name__ == "__main__":
  sys.exit(main())

#!/usr/bin/env python
"""WER and speed of the two LM beam-search backends (decoders/lm_backends.py: in_house, the baseline, and
pyctcdecode with KenLM) on the same logits, LM, alpha, beta and pruning flags: the acceptance check of the
pyctcdecode backend (WER at most --max_wer_delta points above the in-house search's).

    python bench/lm_backends.py --logdir /work/runs/wg0 --corpus /work/data/mini_wg0 [--splits dev-clean,dev-other]
        [--lm LM] [--alpha 0.7 --beta 0 --unknown_word_offset -15 --beam_width 128] [--limit 100]
        [--max_wer_delta 0.3] [--json results/bench/lm_backends.json]

Inputs, the main job's layout (scripts/run_mini_demo.sh): per split, the logits ``LOGDIR/<split>_logits.npz`` and
the manifest ``CORPUS/librivox-<split>.csv``; the LM ``CORPUS/lm-3gram-dict.arpa`` (--lm for another); the
vocabulary of the mini config. --logdir and --corpus default to the main job's (JASPER_DEMO_LOGDIR, else
results/mini_demo; JASPER_MINI_CORPUS, else data/mini_librispeech); --logits and --manifests name the files
directly instead (one of each per split, in order). The defaults of alpha (0.7), beta (0) and the unknown-word
offset (-15) are the main job's, the pruning flags decode.py's.

Both backends decode every utterance in this one process, in blocks of --block utterances taken in turn (in_house,
then pyctcdecode, on the same block), so that a change in the machine's load hits both alike; the bench first
waits for an idle CPU (bench/cpu_budget.py) and prints the other load it found. Printed per split and backend: WER,
transcripts differing from the baseline's, utterances per wall second and per CPU second of this process (the
latter hardly depends on other load), and the speed ratios against in_house; the LM's load time per backend.
Exit status 1 when a split's pyctcdecode WER exceeds in_house's by more than --max_wer_delta points (a lower WER
is no loss; the table shows the difference either way, and --beam_prune_logp -15 gives the search closest to the
in-house one, pyctcdecode_search.py).
"""
import argparse
import json
import os
import sys
import time

from bench.cpu_budget import wait_for_idle_cpu
from open_seq2seq.data.vocab import load_labels
from open_seq2seq.decoders.ctc_beam_search import log_softmax
from open_seq2seq.decoders.lm_decode import add_beam_search_arguments, check_beam_search_arguments, load_logits, \
    match_references
from open_seq2seq.decoders.lm_backends import load_lm, make_beam_search
from open_seq2seq.decoders.pyctcdecode_search import BEAM_PRUNE_LOGP
from open_seq2seq.utils.cli import ArgumentParser, one_line_errors, positive_int
from open_seq2seq.utils.metrics import error_counts

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BACKENDS = ("in_house", "pyctcdecode")  # the baseline first
VOCAB = os.path.join("open_seq2seq", "test_utils", "toy_speech_data", "vocab.txt")


def parse_args(argv):
  """The command line; ValueError for a bad one."""
  parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                          allow_abbrev=False)
  parser.add_argument("--logdir", default=os.environ.get("JASPER_DEMO_LOGDIR",
                                                         os.path.join(REPO, "results", "mini_demo")))
  parser.add_argument("--corpus", default=os.environ.get("JASPER_MINI_CORPUS",
                                                         os.path.join(REPO, "data", "mini_librispeech")))
  parser.add_argument("--splits", default="dev-clean,dev-other", help="comma-separated split names")
  parser.add_argument("--logits", nargs="+", help="logits files, one per split (instead of --logdir)")
  parser.add_argument("--manifests", nargs="+", help="manifest CSVs, one per split (instead of --corpus)")
  parser.add_argument("--lm", help="LM file (default: CORPUS/lm-3gram-dict.arpa)")
  parser.add_argument("--vocab", default=os.path.join(REPO, VOCAB))
  parser.add_argument("--alpha", type=float, default=0.7)
  parser.add_argument("--beta", type=float, default=0.0)
  add_beam_search_arguments(parser, backend=False)
  parser.set_defaults(unknown_word_offset=-15.0)
  parser.add_argument("--beam_prune_logp", type=float, default=BEAM_PRUNE_LOGP,
                      help="pyctcdecode drops beams this far (natural log) below the best (default: the backend's)")
  parser.add_argument("--limit", type=positive_int, help="decode only the first N utterances of each split")
  parser.add_argument("--block", type=positive_int, default=10, help="utterances per turn of each backend")
  parser.add_argument("--max_wer_delta", type=float, default=0.3,
                      help="points of WER pyctcdecode may lose against in_house on every split")
  parser.add_argument("--json", help="also write the results here")
  args = parser.parse_args(argv)
  check_beam_search_arguments(args)
  splits = [s for s in args.splits.split(",") if s]
  args.logits = args.logits or [os.path.join(args.logdir, "{}_logits.npz".format(s)) for s in splits]
  args.manifests = args.manifests or [os.path.join(args.corpus, "librivox-{}.csv".format(s)) for s in splits]
  if not len(args.logits) == len(args.manifests) == len(splits):
    raise ValueError("--logits and --manifests need one file per split ({}), got {} and {}".format(
        ", ".join(splits), len(args.logits), len(args.manifests)))
  args.lm = args.lm or os.path.join(args.corpus, "lm-3gram-dict.arpa")
  args.split_names = splits
  return args


def decode_split(searches, log_probs, alpha, beta, block):
  """``{backend: (transcripts, wall s, CPU s)}``: every backend's search over ``log_probs``, in turns of
  ``block`` utterances."""
  results = {backend: ([], 0.0, 0.0) for backend in searches}
  for start in range(0, len(log_probs), block):
    for backend, search in searches.items():
      transcripts, wall, cpu = results[backend]
      wall0, cpu0 = time.perf_counter(), time.process_time()
      transcripts += [search(lp, alpha, beta)[0][0] for lp in log_probs[start:start + block]]
      results[backend] = (transcripts, wall + time.perf_counter() - wall0, cpu + time.process_time() - cpu0)
  return results


def split_rows(split, references, results):
  """Result entries of one split: WER, differing transcripts, speeds and ratios against the baseline."""
  baseline = results[BACKENDS[0]]
  rows = {}
  for backend, (transcripts, wall, cpu) in results.items():
    edits, words = error_counts(references, transcripts, split)
    rows[backend] = {"wer": edits / words, "edits": edits, "words": words, "utterances": len(transcripts),
                     "differing": sum(a != b for a, b in zip(transcripts, baseline[0])),
                     "utt_per_s": len(transcripts) / wall, "utt_per_cpu_s": len(transcripts) / cpu,
                     "speed_ratio": baseline[1] / wall, "cpu_speed_ratio": baseline[2] / cpu}
  for entry in rows.values():
    entry["wer_delta_points"] = 100.0 * (entry["wer"] - rows[BACKENDS[0]]["wer"])
  return rows


def markdown(table):
  """Markdown table of ``{split: {backend: entry}}``."""
  lines = ["| split | backend | WER (%) | vs in_house (points) | transcripts differing | utt/s | utt/CPU-s | "
           "speed vs in_house (wall, CPU) |", "|---|---|---|---|---|---|---|---|"]
  for split, rows in table.items():
    for backend, e in rows.items():
      lines.append("| {} | {} | {:.2f} | {:+.2f} | {}/{} | {:.2f} | {:.2f} | {:.2f}x, {:.2f}x |".format(
          split, backend, 100 * e["wer"], e["wer_delta_points"], e["differing"], e["utterances"], e["utt_per_s"],
          e["utt_per_cpu_s"], e["speed_ratio"], e["cpu_speed_ratio"]))
  return "\n".join(lines)


def main(argv=None):
  """Runs the comparison; returns 0, or 1 when pyctcdecode's WER exceeds in_house's by more than --max_wer_delta
  points on a split. Raises ValueError (bad flag, logits, manifest or LM) or OSError (a missing file)."""
  args = parse_args(sys.argv[1:] if argv is None else argv)
  labels = load_labels(args.vocab)
  searches, load_seconds = {}, {}
  for backend in BACKENDS:
    started = time.perf_counter()
    language_model, _ = load_lm(backend, args.lm, labels)
    load_seconds[backend] = time.perf_counter() - started
    searches[backend] = make_beam_search(backend, labels, language_model, beam_width=args.beam_width,
                                         cutoff_prob=args.cutoff_prob, cutoff_top_n=args.cutoff_top_n,
                                         unknown_word_offset=args.unknown_word_offset)
    if backend == "pyctcdecode":
      searches[backend].beam_prune_logp = args.beam_prune_logp
  print("LM {}: loaded in {}".format(args.lm, ", ".join("{:.1f} s ({})".format(s, b) for b, s in
                                                          load_seconds.items())))
  print("Other load on the CPUs before timing: {:.0f} %".format(100 * wait_for_idle_cpu()), flush=True)
  table = {}
  for split, logits_path, manifest in zip(args.split_names, args.logits, args.manifests):
    logits = load_logits(logits_path, labels)
    names = list(logits)
    references = match_references([manifest], names, logits_path)
    if args.limit:
      names, references = names[:args.limit], references[:args.limit]
    log_probs = [log_softmax(logits[name]) for name in names]
    table[split] = split_rows(split, references, decode_split(searches, log_probs, args.alpha, args.beta,
                                                              args.block))
    print("{}: {}".format(split, ", ".join("{} WER {:.2f} %".format(b, 100 * e["wer"])
                                           for b, e in table[split].items())), flush=True)
  print("\nalpha {:g}, beta {:g}, unknown_word_offset {:g}, beam_width {}, cutoff_prob {:g}, cutoff_top_n {}, "
        "pyctcdecode's beam_prune_logp {:g}; one process\n".format(
            args.alpha, args.beta, args.unknown_word_offset, args.beam_width, args.cutoff_prob, args.cutoff_top_n,
            args.beam_prune_logp))
  print(markdown(table))
  failed = [s for s, rows in table.items() if rows["pyctcdecode"]["wer_delta_points"] > args.max_wer_delta]
  print("\nAcceptance (WER pyctcdecode - WER in_house <= {} points): {}".format(
      args.max_wer_delta, "NOT met on " + ", ".join(failed) if failed else "met"))
  if args.json:
    with open(args.json, "w") as handle:
      json.dump({"lm": args.lm, "alpha": args.alpha, "beta": args.beta,
                 "unknown_word_offset": args.unknown_word_offset, "beam_width": args.beam_width,
                 "cutoff_prob": args.cutoff_prob, "cutoff_top_n": args.cutoff_top_n,
                 "beam_prune_logp": args.beam_prune_logp, "load_seconds": load_seconds,
                 "splits": table}, handle, indent=1)
  return 1 if failed else 0


cli = one_line_errors()(main)

if __name__ == "__main__":
  sys.exit(cli())

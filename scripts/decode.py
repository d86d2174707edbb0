#!/usr/bin/env python
"""CTC beam-search decoding with a word n-gram language model, over the logits that
``run.py --mode=infer --decoder_params/infer_logits_to_pickle=True`` dumps (the reference's scripts/decode.py
workflow, same flags).

    # eval: WER of greedy and of LM beam search for every (alpha, beta) on the grid, best pair reported
    python scripts/decode.py --logits dev_logits.pickle --labels data/mini_librispeech/librivox-dev-clean.csv \\
        --lm lm-3gram.arpa --vocab open_seq2seq/test_utils/toy_speech_data/vocab.txt \\
        --alpha 0.5 --alpha_max 1.5 --alpha_step 0.5 --beta 0 --beta_max 2 --beta_step 1 --mode eval
    # infer: transcripts with one (alpha, beta)
    python scripts/decode.py --logits test_logits.pickle --lm lm-3gram.arpa --vocab ... --alpha 1 --beta 1 \\
        --mode infer --infer_output_file test_predictions.csv

Utterances are decoded in parallel, one process per core.
"""
import argparse
import csv
import multiprocessing
import os
import pickle
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from open_seq2seq.decoders.ctc_beam_search import WordScorer, ctc_beam_search, log_softmax  # noqa: E402  pylint: disable=wrong-import-position
from open_seq2seq.decoders.lm import ArpaLanguageModel  # noqa: E402  pylint: disable=wrong-import-position
from open_seq2seq.data.vocab import load_vocab  # noqa: E402  pylint: disable=wrong-import-position
from open_seq2seq.utils.atomic import atomic_output  # noqa: E402  pylint: disable=wrong-import-position
from open_seq2seq.utils.metrics import corpus_wer  # noqa: E402  pylint: disable=wrong-import-position

_WORKER = {}


def read_labels(vocab_file):
  vocab = load_vocab(vocab_file)
  return sorted(vocab, key=vocab.get)


def load_logits(path, vocab):
  """``{wav_filename: [T', V+1] logits}`` of an infer_logits_to_pickle dump, checked against ``vocab``."""
  with open(path, "rb") as handle:
    try:
      stored = pickle.load(handle)
    except (pickle.UnpicklingError, EOFError, AttributeError) as error:
      raise ValueError("{}: not a logits pickle written by run.py ({})".format(path, error)) from None
  if not isinstance(stored, dict) or "logits" not in stored:
    raise ValueError("{}: expected a dict with 'logits' (from --decoder_params/infer_logits_to_pickle=True)".format(
        path))
  if "vocab" in stored:
    stored_labels = [stored["vocab"][i] for i in sorted(stored["vocab"])]
    if stored_labels != list(vocab):
      raise ValueError("{}: the logits were made with the vocabulary {!r}, --vocab gives {!r}".format(
          path, "".join(stored_labels), "".join(vocab)))
  for name, logits in stored["logits"].items():
    if np.ndim(logits) != 2 or np.shape(logits)[1] != len(vocab) + 1:
      raise ValueError("{}: logits of {} have shape {}, expected [T, {}]".format(
          path, name, list(np.shape(logits)), len(vocab) + 1))
  return stored["logits"]


def read_references(path):
  with open(path, newline="", encoding="utf-8") as handle:
    try:
      reader = csv.DictReader(handle)
      if not reader.fieldnames or not {"wav_filename", "transcript"} <= set(reader.fieldnames):
        raise ValueError("{}: expected columns wav_filename and transcript, got {}".format(path, reader.fieldnames))
      return {row["wav_filename"]: row["transcript"] for row in reader}
    except UnicodeDecodeError as error:
      raise ValueError("{}: not UTF-8 text ({})".format(path, error.reason)) from None


def greedy_transcript(logits, labels):
  best = np.argmax(logits, axis=1)
  blank = len(labels)
  chars = [labels[c] for i, c in enumerate(best) if c != blank and (i == 0 or c != best[i - 1])]
  return " ".join("".join(chars).split())


def _init_worker(lm_path, labels, beam_width, cutoff_prob, cutoff_top_n, unknown_word_offset):
  _WORKER.update(lm=ArpaLanguageModel.from_file(lm_path) if lm_path else None, labels=labels,
                 beam_width=beam_width, cutoff_prob=cutoff_prob, cutoff_top_n=cutoff_top_n,
                 unknown_word_offset=unknown_word_offset, scorers={})


def _decode_one(job):
  log_probs, alpha, beta = job
  scorer = None
  if _WORKER["lm"] is not None:
    scorer = _WORKER["scorers"].get((alpha, beta))
    if scorer is None:
      scorer = _WORKER["scorers"][(alpha, beta)] = WordScorer(_WORKER["lm"], alpha, beta,
                                                                         _WORKER["unknown_word_offset"])
  return ctc_beam_search(log_probs, _WORKER["labels"], beam_width=_WORKER["beam_width"], scorer=scorer,
                         cutoff_prob=_WORKER["cutoff_prob"], cutoff_top_n=_WORKER["cutoff_top_n"])


def grid(start, stop, step):
  if stop is None or step is None or step <= 0:
    return [start]
  count = int(round((stop - start) / step)) + 1
  return [round(start + i * step, 6) for i in range(max(count, 1))]


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--logits", required=True, help="pickle from run.py --mode=infer with infer_logits_to_pickle")
  parser.add_argument("--labels", nargs="+",
                      help="manifest CSVs (wav_filename, transcript); required for --mode eval")
  parser.add_argument("--lm", help="ARPA word language model (.arpa or .arpa.gz); without it, plain beam search")
  parser.add_argument("--vocab", required=True, help="character vocabulary file of the model")
  parser.add_argument("--alpha", type=float, default=1.0, help="LM weight")
  parser.add_argument("--alpha_max", type=float)
  parser.add_argument("--alpha_step", type=float)
  parser.add_argument("--beta", type=float, default=1.0, help="word insertion bonus")
  parser.add_argument("--beta_max", type=float)
  parser.add_argument("--beta_step", type=float)
  parser.add_argument("--beam_width", type=int, default=128)
  parser.add_argument("--cutoff_prob", type=float, default=0.9999,
                      help="expand per frame only the likeliest characters holding this much probability")
  parser.add_argument("--cutoff_top_n", type=int, default=40)
  parser.add_argument("--unknown_word_offset", type=float, default=-10.0,
                      help="natural-log score added to a word outside the LM's vocabulary, on top of P(<unk>)")
  parser.add_argument("--mode", choices=["eval", "infer"], default="eval")
  parser.add_argument("--infer_output_file", help="CSV of transcripts (infer mode; eval mode: of the best pair)")
  parser.add_argument("--dump_all_beams_to", help="text file with every beam and its score per utterance")
  parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
  args = parser.parse_args(argv)
  if args.mode == "eval" and not args.labels:
    parser.error("--mode eval needs --labels")
  if args.mode == "infer" and not args.infer_output_file:
    parser.error("--mode infer needs --infer_output_file")
  labels = read_labels(args.vocab)
  logits = load_logits(args.logits, labels)
  names = sorted(logits)
  references = None
  if args.labels:
    references = {}
    for manifest in args.labels:
      references.update(read_references(manifest))
    missing = [name for name in names if name not in references]
    if missing:
      raise ValueError("{}: no transcript for {} utterances of {}, e.g. {}".format(
          ", ".join(args.labels), len(missing), args.logits, missing[0]))
  log_probs = [log_softmax(logits[name]) for name in names]
  pairs = [(a, b) for a in grid(args.alpha, args.alpha_max, args.alpha_step)
           for b in grid(args.beta, args.beta_max, args.beta_step)] if args.lm else [(0.0, 0.0)]
  if args.mode == "infer":
    pairs = pairs[:1]

  results = {}
  with multiprocessing.Pool(args.workers, _init_worker,
                            (args.lm, labels, args.beam_width, args.cutoff_prob, args.cutoff_top_n,
                             args.unknown_word_offset)) as pool:
    if references is not None:
      greedy = [greedy_transcript(logits[name], labels) for name in names]
      print("greedy WER: {:.4f}".format(corpus_wer([references[n] for n in names], greedy)))
      print("| alpha | beta | WER | seconds |")
      print("|---|---|---|---|")
    for alpha, beta in pairs:
      started = time.time()
      beams = pool.map(_decode_one, [(lp, alpha, beta) for lp in log_probs], chunksize=4)
      wer = None
      if references is not None:
        wer = corpus_wer([references[n] for n in names], [b[0][0] if b else "" for b in beams])
        print("| {:g} | {:g} | {:.4f} | {:.1f} |".format(alpha, beta, wer, time.time() - started), flush=True)
      results[(alpha, beta)] = (wer, beams)
  best_pair = min(results, key=lambda pair: results[pair][0]) if references is not None else pairs[0]
  best_wer, best_beams = results[best_pair]
  if best_wer is not None:
    print("best: alpha {:g}, beta {:g}, WER {:.4f}".format(best_pair[0], best_pair[1], best_wer))
  if args.infer_output_file:
    with atomic_output(args.infer_output_file) as tmp_file, \
        open(tmp_file, "w", newline="", encoding="utf-8") as handle:
      writer = csv.writer(handle)
      writer.writerow(["wav_filename", "predicted_transcript"])
      for name, beams in zip(names, best_beams):
        writer.writerow([name, beams[0][0] if beams else ""])
  if args.dump_all_beams_to:
    with atomic_output(args.dump_all_beams_to) as tmp_file, open(tmp_file, "w", encoding="utf-8") as handle:
      for name, beams in zip(names, best_beams):
        handle.write("{}\n".format(name))
        for text, score in beams:
          handle.write("{:.4f}\t{}\n".format(score, text))
  return 0


if __name__ == "__main__":
  try:
    sys.exit(main())
  except (ValueError, OSError) as error:
    sys.stderr.write("decode.py: error: {}\n".format(error))
    sys.exit(1)

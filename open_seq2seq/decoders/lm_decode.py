"""CTC beam-search decoding with a word n-gram language model, over the logits that
``run.py --mode=infer --decoder_params/infer_logits_to_pickle=True`` dumps (the reference's scripts/decode.py
workflow, same flags; the dump is a ``.npz`` file, see docs/logits_format.md).

    # eval: WER of greedy and of LM beam search for every (alpha, beta) on the grid, best pair reported
    python scripts/decode.py --logits dev_logits.npz --labels data/mini_librispeech/librivox-dev-clean.csv \\
        --lm lm-3gram.arpa --vocab open_seq2seq/test_utils/toy_speech_data/vocab.txt \\
        --alpha 0.5 --alpha_max 1.5 --alpha_step 0.5 --beta 0 --beta_max 2 --beta_step 1 --mode eval
    # infer: transcripts with one (alpha, beta)
    python scripts/decode.py --logits test_logits.npz --lm lm-3gram.arpa --vocab ... --alpha 1 --beta 1 \\
        --mode infer --infer_output_file test_predictions.csv

Two beam searches (--lm_backend, decoders/lm_backends.py): pyctcdecode with the LM queried through KenLM
(ARPA, .arpa.gz or a KenLM binary, any letter case), or the in-house CTC prefix beam search over an ARPA file
read into Python; --alpha, --beta and --unknown_word_offset mean the same in both. The LM is read
and checked once, before decoding starts; utterances are then decoded in parallel, one process per core. A
logits pickle of an older run.py or of OpenSeq2Seq is read only with --trust_pickle, since unpickling a file can
run any code it holds.
"""
import argparse
import concurrent.futures
import math
import os
import sys
import time
from concurrent.futures.process import BrokenProcessPool

from open_seq2seq.data.speech2text.logits_file import read_logits
from open_seq2seq.data.speech2text.manifest import read_transcripts
from open_seq2seq.data.speech2text.predictions import write_predictions
from open_seq2seq.data.vocab import load_labels
from open_seq2seq.decoders.ctc_beam_search import log_softmax
from open_seq2seq.decoders.greedy_ctc import greedy_transcript
from open_seq2seq.decoders.lm_backends import DEFAULT_LM_BACKEND, LM_BACKENDS, load_lm, make_beam_search
from open_seq2seq.utils.atomic import atomic_output
from open_seq2seq.utils.cli import ArgumentParser, one_line_errors
from open_seq2seq.utils.metrics import corpus_wer

# More values than this on one axis is a mistyped step, and the grid would run for days.
MAX_GRID_VALUES = 1000
_WORKER = {}


class WorkerDiedError(Exception):
  """A decoding worker process died (killed, out of memory); the run ends without writing anything."""


def add_beam_search_arguments(parser, backend=True):
  """Adds the CTC beam search's flags (``--lm_backend`` unless not ``backend``, ``--beam_width``, ``--cutoff_prob``,
  ``--cutoff_top_n``, ``--unknown_word_offset``) to ``parser``, with the reference decoder's defaults; shared by
  the tools that decode (decode.py, transcribe), which check them with check_beam_search_arguments."""
  if backend:
    parser.add_argument("--lm_backend", choices=LM_BACKENDS, default=DEFAULT_LM_BACKEND,
                        help="beam search: pyctcdecode with the LM read by KenLM (ARPA, .arpa.gz or KenLM binary), "
                             "or in_house (ARPA only); the same flags mean the same in both (default: %(default)s)")
  parser.add_argument("--beam_width", type=int, default=128)
  parser.add_argument("--cutoff_prob", type=float, default=0.9999,
                      help="expand per frame only the likeliest characters holding this much probability")
  parser.add_argument("--cutoff_top_n", type=int, default=40)
  parser.add_argument("--unknown_word_offset", type=float, default=-10.0,
                      help="natural-log score added to a word outside the LM's vocabulary, on top of P(<unk>)")


def check_beam_search_arguments(args):
  """ValueError naming the flag for a beam search flag of add_beam_search_arguments out of its range."""
  for flag, valid, expected in [("beam_width", args.beam_width >= 1, ">= 1"),
                                ("cutoff_prob", 0 < args.cutoff_prob <= 1, "in (0, 1]"),
                                ("cutoff_top_n", args.cutoff_top_n >= 1, ">= 1"),
                                ("unknown_word_offset", math.isfinite(args.unknown_word_offset), "finite")]:
    if not valid:
      raise ValueError("--{} must be {}, got {}".format(flag, expected, getattr(args, flag)))


def load_logits(path, labels, trust_pickle=False):
  """``{wav_filename: [T', V+1] logits}`` (manifest order) of a logits file, checked against ``labels``."""
  logits = read_logits(path, trust_pickle, labels).logits
  if not logits:
    raise ValueError("{}: holds no utterances".format(path))
  return logits


def match_references(manifests, names, logits_path):
  """The transcripts of ``names`` (the logits' utterances) from ``manifests``; both must hold the same set."""
  references, listed_in = {}, {}
  for manifest in manifests:
    for name, transcript in read_transcripts(manifest).items():
      if name in listed_in:
        raise ValueError("{}: {} is listed in {} too".format(manifest, name, listed_in[name]))
      references[name], listed_in[name] = transcript, manifest
  missing = [name for name in names if name not in references]
  if missing:
    raise ValueError("{}: no transcript for {} utterances of {}, e.g. {}".format(
        ", ".join(manifests), len(missing), logits_path, missing[0]))
  extra = sorted(set(references) - set(names))
  if extra:
    raise ValueError("{}: no logits for {} utterances of {}, e.g. {} (logits of another set, or an inference "
                     "run that skipped rows?)".format(logits_path, len(extra), ", ".join(manifests), extra[0]))
  return [references[name] for name in names]


def _init_worker(search):
  _WORKER["search"] = search


def _decode_one(job):
  log_probs, alpha, beta = job
  return _WORKER["search"](log_probs, alpha, beta)


def grid(name, start, stop, step):
  """``[start, start + step, ...]`` up to ``stop`` inclusive (6 decimals), ``[start]`` without stop and step;
  ValueError naming the ``--name`` flags when they do not make a grid."""
  if any(value is not None and not math.isfinite(value) for value in (start, stop, step)):
    raise ValueError("--{0}, --{0}_max and --{0}_step must be finite numbers".format(name))
  if stop is None and step is None:
    return [start]
  if stop is None or step is None:
    raise ValueError("--{0}_max and --{0}_step make a grid together; one of them is missing".format(name))
  if step <= 0:
    raise ValueError("--{}_step must be > 0, got {:g}".format(name, step))
  if stop < start:
    raise ValueError("--{0}_max ({1:g}) is below --{0} ({2:g})".format(name, stop, start))
  count = int(math.floor((stop - start) / step + 1e-9)) + 1
  if count > MAX_GRID_VALUES:
    raise ValueError("--{0} {1:g} to {2:g} in steps of {3:g} makes {4} values, at most {5} allowed".format(
        name, start, stop, step, count, MAX_GRID_VALUES))
  return [round(start + i * step, 6) for i in range(count)]


def parse_args(argv):
  """The namespace of the command line ``argv``; ValueError for a bad one (argparse's usage errors included)."""
  parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--logits", required=True,
                      help="logits .npz file from run.py --mode=infer with infer_logits_to_pickle")
  parser.add_argument("--trust_pickle", action="store_true",
                      help="also read a logits pickle (older run.py, OpenSeq2Seq); unpickling runs any code the "
                           "file holds: only for files you made yourself")
  parser.add_argument("--labels", nargs="+",
                      help="manifest CSVs (wav_filename, transcript); required for --mode eval")
  parser.add_argument("--lm", help="word language model: ARPA (.arpa or .arpa.gz), or with --lm_backend pyctcdecode "
                                   "also a KenLM binary; without it, plain beam search")
  parser.add_argument("--vocab", required=True, help="character vocabulary file of the model")
  parser.add_argument("--alpha", type=float, default=1.0, help="LM weight")
  parser.add_argument("--alpha_max", type=float)
  parser.add_argument("--alpha_step", type=float)
  parser.add_argument("--beta", type=float, default=1.0, help="word insertion bonus")
  parser.add_argument("--beta_max", type=float)
  parser.add_argument("--beta_step", type=float)
  add_beam_search_arguments(parser)
  parser.add_argument("--mode", choices=["eval", "infer"], default="eval")
  parser.add_argument("--infer_output_file", help="CSV of transcripts (infer mode; eval mode: of the best pair)")
  parser.add_argument("--dump_all_beams_to", help="text file with every beam and its score per utterance")
  parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
  args = parser.parse_args(argv)
  if args.mode == "eval" and not args.labels:
    raise ValueError("--mode eval needs --labels")
  if args.mode == "infer" and not args.infer_output_file:
    raise ValueError("--mode infer needs --infer_output_file")
  for flag in ("lm", "logits", "vocab", "infer_output_file", "dump_all_beams_to"):
    if getattr(args, flag) == "":
      # An empty --lm would otherwise silently mean plain beam search (a shell variable that was never set).
      raise ValueError("--{} is given an empty file name".format(flag))
  check_beam_search_arguments(args)
  if args.workers < 1:
    raise ValueError("--workers must be >= 1, got {}".format(args.workers))
  return args


def parameter_pairs(args):
  """The (alpha, beta) pairs to decode with: the grid with an LM, (0, 0) (plain beam search) without one."""
  alphas = grid("alpha", args.alpha, args.alpha_max, args.alpha_step)
  betas = grid("beta", args.beta, args.beta_max, args.beta_step)
  if len(alphas) * len(betas) > 1 and (args.mode == "infer" or not args.lm):
    raise ValueError("an (alpha, beta) grid needs --lm and --mode eval (infer decodes with one pair)")
  return [(a, b) for a in alphas for b in betas] if args.lm else [(0.0, 0.0)]


def decode_all(args, labels, lm, log_probs, references, greedy):
  """``{(alpha, beta): (WER or None, beams per utterance)}``; prints the WER table when ``references``.

  Raises WorkerDiedError when a worker process dies (nothing has been written then).
  """
  results = {}
  search = make_beam_search(args.lm_backend, labels, lm, beam_width=args.beam_width, cutoff_prob=args.cutoff_prob,
                            cutoff_top_n=args.cutoff_top_n, unknown_word_offset=args.unknown_word_offset)
  # A ProcessPoolExecutor, unlike multiprocessing.Pool, fails (BrokenProcessPool) when a worker dies
  # instead of starting replacements forever.
  try:
    with concurrent.futures.ProcessPoolExecutor(min(args.workers, len(log_probs)), initializer=_init_worker,
                                                initargs=(search,)) as pool:
      if references is not None:
        print("greedy WER: {:.4f}".format(corpus_wer(references, greedy)))
        print("| alpha | beta | WER | seconds |")
        print("|---|---|---|---|")
      for alpha, beta in parameter_pairs(args):
        started = time.time()
        beams = list(pool.map(_decode_one, [(lp, alpha, beta) for lp in log_probs], chunksize=4))
        wer = None
        if references is not None:
          wer = corpus_wer(references, [b[0][0] if b else "" for b in beams])
          print("| {:g} | {:g} | {:.4f} | {:.1f} |".format(alpha, beta, wer, time.time() - started), flush=True)
        results[(alpha, beta)] = (wer, beams)
  except BrokenProcessPool as error:
    raise WorkerDiedError("a decoding worker process died ({}); nothing was written".format(error)) from error
  return results


def write_outputs(args, names, beams_per_utterance):
  """Writes --infer_output_file (the best beam of each utterance) and --dump_all_beams_to, each atomically."""
  if args.infer_output_file:
    write_predictions(args.infer_output_file, names, [beams[0][0] if beams else "" for beams in beams_per_utterance])
  if args.dump_all_beams_to:
    with atomic_output(args.dump_all_beams_to) as tmp_file, open(tmp_file, "w", encoding="utf-8") as handle:
      for name, beams in zip(names, beams_per_utterance):
        handle.write("{}\n".format(name))
        for text, score in beams:
          handle.write("{:.4f}\t{}\n".format(score, text))


def main(argv=None):
  """Decodes as the command line ``argv`` (default: sys.argv[1:]) says; returns 0. Raises ValueError (bad flag,
  grid, vocabulary, LM, logits or manifest), OSError (a file that cannot be read or written) or WorkerDiedError;
  the outputs are written, atomically, only after every utterance is decoded."""
  args = parse_args(argv)
  parameter_pairs(args)  # a bad grid is refused before anything is read
  labels = load_labels(args.vocab)
  logits = load_logits(args.logits, labels, args.trust_pickle)
  names = list(logits)
  references = match_references(args.labels, names, args.logits) if args.labels else None
  lm = None
  if args.lm is not None:
    lm, notes = load_lm(args.lm_backend, args.lm, labels)
    for note in notes:
      sys.stderr.write("Warning: {}\n".format(note))
  greedy = [greedy_transcript(logits[name], labels) for name in names] if references is not None else None
  results = decode_all(args, labels, lm, [log_softmax(logits[name]) for name in names], references, greedy)
  best_pair = min(results, key=lambda pair: results[pair][0]) if references is not None else next(iter(results))
  best_wer, best_beams = results[best_pair]
  if best_wer is not None:
    print("best: alpha {:g}, beta {:g}, WER {:.4f}".format(best_pair[0], best_pair[1], best_wer))
  write_outputs(args, names, best_beams)
  return 0


# The entry point of scripts/decode.py and the console script jasper-decode.
cli = one_line_errors(errors=(ValueError, OSError, WorkerDiedError))(main)

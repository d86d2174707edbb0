"""The mini corpus build: which speaker reads which sentence, the settings check, resume, and the command line.

Every "speaker" is one espeak-ng voice (accent) + variant combination with its own speaking rate and pitch
(open_seq2seq/corpus/speakers.py); train, dev and test use disjoint speakers and disjoint sentences
(open_seq2seq/corpus/text.py); the output is laid out as LibriSpeech (open_seq2seq/corpus/layout.py). Given
the same arguments and seed the output is byte-identical; an interrupted build can be resumed by running the
same command again (finished utterances are kept, every file is written atomically).
"""
import argparse
import hashlib
import json
import os
import random

from open_seq2seq.corpus import piper_voice
from open_seq2seq.corpus.errors import CorpusError
from open_seq2seq.corpus.espeak import check_speakers
from open_seq2seq.corpus.hibari_dev import build_hibari_dev, check_available as check_hibari_available
from open_seq2seq.corpus.layout import (DEV_OTHER_SPLIT, DEV_SPLIT, SPEAKERS_FILE_NAME, SPLITS, TEST_SPLIT,
                                        TRAIN_SPLIT, chapter_dir, speakers_table, utterance_id, utterance_index,
                                        write_lm_text, write_split_tables, write_text_atomic)
from open_seq2seq.corpus.piper_dev import build_piper_dev
from open_seq2seq.corpus.speakers import TRAIN_VARIANT_SETS, select_speakers
from open_seq2seq.corpus.synthesis import synthesize_all
from open_seq2seq.corpus.text import DEFAULT_EXCLUDED_FORTUNE_FILES, DEFAULT_FORTUNE_DIR, collect_transcripts
from open_seq2seq.corpus.tools import find_tools
from open_seq2seq.utils.atomic import remove_temp_files
from open_seq2seq.utils.cli import one_line_errors

try:
  from tqdm import tqdm
except ImportError:  # pragma: no cover - tqdm is in requirements.txt
  tqdm = None

BUILD_INFO_NAME = ".mini_corpus_build.json"
# The share of training speakers rendered by Piper's neural voice instead of espeak-ng (corpus/piper_voice.py).
PIPER_FRACTION = 0.05
BUILD_FORMAT_VERSION = 3


def plan_corpus(transcripts, speakers, seed, num_utterances):
  """Assigns disjoint shuffled sentences to the splits and their speakers.

  ``num_utterances`` maps split -> count. Dev and test take the first
  sentences of the shuffle, so they do not depend on the training size;
  dev-other (when it has speakers) reads the dev sentences.
  Returns {split: [(speaker dict, utt_id, transcript), ...]}. Raises
  CorpusError when there are fewer transcripts than utterances.
  """
  needed = sum(num_utterances.values())
  if len(transcripts) < needed:
    raise CorpusError(
        "only {} usable sentences found but {} utterances requested; lower "
        "--num_*_utterances or widen --min_words/--max_words".format(
            len(transcripts), needed))
  order = list(transcripts)
  random.Random(seed).shuffle(order)
  plan = {}
  start = 0
  for split in (DEV_SPLIT, TEST_SPLIT, TRAIN_SPLIT, DEV_OTHER_SPLIT):
    split_speakers = [s for s in speakers if s["split"] == split]
    if split == DEV_OTHER_SPLIT:
      chunk = [transcript for _, _, transcript in plan[DEV_SPLIT]] if split_speakers else []
    else:
      count = num_utterances[split]
      chunk = order[start:start + count]
      start += count
    counters = [0] * len(split_speakers)
    items = []
    for k, transcript in enumerate(chunk):
      j = k % len(split_speakers)
      s = split_speakers[j]
      utt_id = utterance_id(s, counters[j])
      counters[j] += 1
      items.append((s, utt_id, transcript))
    plan[split] = items
  return plan


def _check_build_info(root, info):
  """Records the settings of a new build; refuses (CorpusError) to complete one built with other settings."""
  path = os.path.join(root, BUILD_INFO_NAME)
  if os.path.exists(path):
    with open(path, encoding="utf-8") as f:
      try:
        old = json.load(f)
      except ValueError:
        old = None
    if old != info:
      raise CorpusError(
          "{} already holds a corpus built with different settings (see {}); "
          "use another --output_dir or delete it".format(root, path))
  else:
    write_text_atomic(path, json.dumps(info, indent=1, sort_keys=True) + "\n")


def _plan_digest(plan):
  return hashlib.sha256(json.dumps(
      {split: [[u, t] for _, u, t in items] for split, items in plan.items()},
      sort_keys=True).encode("utf-8")).hexdigest()


def _pending_jobs(root, plan, splits):
  """(synthesis jobs of the utterances without a FLAC yet, number of those present); clears what interrupted
  writers left behind and creates the chapter folders."""
  jobs = []
  present = 0
  for split in splits:
    for s, utt_id, transcript in plan[split]:
      flac = os.path.join(chapter_dir(root, split, s), utt_id + ".flac")
      if os.path.exists(flac):
        present += 1
      else:
        jobs.append((s, transcript, flac, utterance_index(utt_id)))
  remove_temp_files(root)
  for split in splits:
    for directory in sorted({chapter_dir(root, split, s)
                             for s, _, _ in plan[split]}):
      os.makedirs(directory, exist_ok=True)
      remove_temp_files(directory)
  return jobs, present


def _progress(total, initial):
  if tqdm is None:
    return None
  return tqdm(total=total, initial=initial, unit="utt", desc="synthesising",
              dynamic_ncols=True)


def _utterance_counts(num_train_utterances, num_dev_utterances, num_test_utterances, min_words, max_words,
                      workers):
  """{split: requested count} of train (None: all that is left), dev and test; CorpusError if one is off."""
  counts = {TRAIN_SPLIT: num_train_utterances, DEV_SPLIT: num_dev_utterances,
            TEST_SPLIT: num_test_utterances}
  for split, n in counts.items():
    if n is not None and n < 1:
      raise CorpusError("{} needs at least one utterance".format(split))
  if not 1 <= min_words <= max_words:
    raise CorpusError("need 1 <= --min_words <= --max_words")
  if workers < 1:
    raise CorpusError("--workers must be >= 1, got {}".format(workers))
  return counts


def build_corpus(output_dir, num_train_utterances=None, num_dev_utterances=300,
                 num_test_utterances=300, seed=0, workers=2, min_words=3,
                 max_words=18, num_train_speakers=400, num_dev_speakers=4,
                 num_test_speakers=4, num_dev_other_speakers=8, world_fraction=0.1, word_gaps=False,
                 train_variants="all", piper_fraction=PIPER_FRACTION, piper_dev=True,
                 hibari_dev=True,
                 fortune_dir=DEFAULT_FORTUNE_DIR,
                 exclude_fortune_files=DEFAULT_EXCLUDED_FORTUNE_FILES,
                 log=print):
  """Builds (or completes) the corpus; returns {split: number of utterances}.

  ``num_train_utterances`` None: every usable sentence that dev and test do
  not take. ``piper_dev``, ``hibari_dev``: also write dev-piper (piper_dev.py), dev-hibari (hibari_dev.py).
  Raises CorpusError on any problem.
  """
  counts = _utterance_counts(num_train_utterances, num_dev_utterances, num_test_utterances, min_words,
                             max_words, workers)
  tools = find_tools()
  transcripts = collect_transcripts(fortune_dir, min_words, max_words,
                                    tuple(exclude_fortune_files))
  log("{} usable sentences in {}".format(len(transcripts), fortune_dir))
  if num_train_utterances is None:
    counts[TRAIN_SPLIT] = len(transcripts) - num_dev_utterances - num_test_utterances
    if counts[TRAIN_SPLIT] < 1:
      raise CorpusError(
          "only {} usable sentences found, none left for training after {} dev "
          "and {} test utterances".format(len(transcripts), num_dev_utterances,
                                          num_test_utterances))
  speakers = select_speakers(seed, num_train_speakers, num_dev_speakers,
                             num_test_speakers, num_dev_other_speakers, world_fraction, word_gaps,
                             train_variants, piper_fraction)
  plan = plan_corpus(transcripts, speakers, seed, counts)
  check_speakers([s for s in speakers if not piper_voice.is_piper(s)], tools["espeak-ng"], workers)
  if piper_dev or any(piper_voice.is_piper(s) for s in speakers):
    piper_voice.check_available()
  if hibari_dev:
    check_hibari_available()

  root = os.path.join(output_dir, "LibriSpeech")
  os.makedirs(root, exist_ok=True)
  _check_build_info(root, {
      "format_version": BUILD_FORMAT_VERSION,
      "seed": seed,
      "num_utterances": counts,
      "world_fraction": world_fraction,
      "min_words": min_words,
      "max_words": max_words,
      "speakers": speakers,
      "plan_sha256": _plan_digest(plan),
  })
  write_text_atomic(os.path.join(root, SPEAKERS_FILE_NAME),
                    speakers_table(speakers, plan, seed))
  splits = [split for split in SPLITS if plan[split]]
  jobs, present = _pending_jobs(root, plan, splits)
  if present:
    log("{} utterances already present, {} to synthesise".format(
        present, len(jobs)))
  synthesize_all(tools, jobs, workers, _progress(present + len(jobs), present))
  for split in splits:
    write_split_tables(root, split, plan[split], seed)
  write_lm_text(output_dir, transcripts, plan)
  sizes = {split: len(plan[split]) for split in splits}
  if piper_dev:
    sizes["dev-piper"] = build_piper_dev(output_dir, [t for _, _, t in plan[DEV_SPLIT]], seed, log, tqdm)
  if hibari_dev:
    sizes["dev-hibari"] = build_hibari_dev(output_dir, [t for _, _, t in plan[DEV_SPLIT]], seed, log, tqdm)
  return sizes


def parse_args(argv=None):
  """The command line of scripts/build_mini_corpus.py (``argv`` None: sys.argv[1:]); argparse exits on errors."""
  parser = argparse.ArgumentParser(
      description="Synthesise a small LibriSpeech-layout corpus with espeak-ng "
                  "from the sentences of the fortunes collection.")
  parser.add_argument("--output_dir", required=True,
                      help="the corpus is written to OUTPUT_DIR/LibriSpeech/")
  parser.add_argument("--num_train_utterances", type=int, default=None,
                      help="default: every usable sentence not in dev/test "
                           "(16166 with Debian bookworm's fortunes)")
  parser.add_argument("--num_dev_utterances", type=int, default=300)
  parser.add_argument("--num_test_utterances", type=int, default=300)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--workers", type=int, default=2,
                      help="parallel espeak-ng | sox pipelines")
  parser.add_argument("--min_words", type=int, default=3)
  parser.add_argument("--max_words", type=int, default=18)
  parser.add_argument("--num_train_speakers", type=int, default=400,
                      help="training speakers, each with its own timbre")
  parser.add_argument("--num_dev_speakers", type=int, default=4)
  parser.add_argument("--num_test_speakers", type=int, default=4)
  parser.add_argument("--num_dev_other_speakers", type=int, default=8,
                      help="speakers of the out-of-domain dev proxy (dev-other: "
                           "the dev sentences, unseen variants and recording "
                           "conditions); 0 builds none")
  parser.add_argument("--world_fraction", type=float, default=0.1,
                      help="fraction of training speakers resynthesised with "
                           "the WORLD vocoder (pyworld)")
  parser.add_argument("--word_gaps", action="store_true",
                      help="training speakers pause between words (espeak-ng -g 1-3, 3 speakers in 5); off by "
                           "default: the pauses cost 2.5 points of dev WER (README, Voices and recording conditions)")
  parser.add_argument("--train_variants", choices=sorted(TRAIN_VARIANT_SETS), default="all",
                      help="espeak-ng variants of the training speakers: plain (the male/female ones the dev and "
                           "test speakers use) or all (also Klatt, croak/whisper and named community voices)")
  parser.add_argument("--piper_fraction", type=float, default=PIPER_FRACTION,
                      help="fraction of training speakers read by Piper's neural voice (en_US-joe-medium, each "
                           "with its own rate and timbre) instead of espeak-ng; 0: espeak-ng only")
  parser.add_argument("--piper_dev", action=argparse.BooleanOptionalAction, default=True,
                      help="also write dev-piper: the dev sentences read by Piper's voice at its own timbre, "
                           "noise on (librivox-dev-piper.csv, 16 kHz WAV; open_seq2seq/corpus/piper_dev.py)")
  parser.add_argument("--hibari_dev", action=argparse.BooleanOptionalAction, default=True,
                      help="also write dev-hibari: the dev sentences read by hibari's heart voice, a neural "
                           "voice no training speaker uses (librivox-dev-hibari.csv, 16 kHz WAV; "
                           "open_seq2seq/corpus/hibari_dev.py)")
  parser.add_argument("--fortune_dir", default=DEFAULT_FORTUNE_DIR,
                      help="folder of plain-text fortune files")
  parser.add_argument("--exclude_fortune_files", nargs="*",
                      default=list(DEFAULT_EXCLUDED_FORTUNE_FILES),
                      help="fortune files not to read (default: %(default)s, "
                           "which is not English)")
  return parser.parse_args(argv)


@one_line_errors(errors=(CorpusError,), prefix="build_mini_corpus.py: error: ",
                 interrupted="build_mini_corpus.py: interrupted; run the same command again to resume")
def main(argv=None):
  """Builds the corpus the command line asks for; returns the exit status: 0 done, 1 CorpusError (printed to
  stderr), 130 interrupted (run the same command again to resume)."""
  args = parse_args(argv)
  sizes = build_corpus(
      args.output_dir,
      num_train_utterances=args.num_train_utterances,
      num_dev_utterances=args.num_dev_utterances,
      num_test_utterances=args.num_test_utterances,
      seed=args.seed, workers=args.workers, min_words=args.min_words,
      max_words=args.max_words, num_train_speakers=args.num_train_speakers,
      num_dev_speakers=args.num_dev_speakers,
      num_test_speakers=args.num_test_speakers,
      num_dev_other_speakers=args.num_dev_other_speakers,
      world_fraction=args.world_fraction,
      word_gaps=args.word_gaps,
      train_variants=args.train_variants,
      piper_fraction=args.piper_fraction,
      piper_dev=args.piper_dev,
      hibari_dev=args.hibari_dev,
      fortune_dir=args.fortune_dir,
      exclude_fortune_files=args.exclude_fortune_files)
  print("done: " + ", ".join("{} {} utterances".format(split, n)
                             for split, n in sizes.items()))
  return 0

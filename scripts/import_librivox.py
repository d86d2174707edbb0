#!/usr/bin/env python
"""Convert an extracted LibriSpeech corpus to WAV files plus CSV lists.

Behaves like OpenSeq2Seq's ``scripts/import_librivox.py`` minus the download
(there is no network here): put the extracted corpus (or the output of
``build_mini_corpus.py``) at ``<data_dir>/LibriSpeech/`` and run::

    python scripts/import_librivox.py --data_dir <data_dir>

For every split folder (``train-clean-100``, ``dev-clean``, ...) this

* walks the ``*.trans.txt`` files (sorted), each line ``<utt-id> <TRANSCRIPT>``;
  the transcript is NFKD-normalised, reduced to ASCII, lower-cased, stripped;
* checks that transcript lines and ``<utt-id>.flac`` files pair up: a FLAC
  without a line, a line without a FLAC, a duplicate id or a malformed line is
  listed (one line each, with counts per kind) and an error, as a complete
  LibriSpeech download has none; ``--skip_incomplete`` imports the utterances
  that pair up and lists the rest; a transcript file may start with a
  byte-order mark and end its lines in \n, \r\n or \r;
* decodes every FLAC to its end (also with ``--keep_flac``): the files that
  cannot be read or decoded are all listed and an error, or with
  ``--skip_incomplete`` left out;
* converts ``<utt-id>.flac`` to ``<data_dir>/LibriSpeech/<split>-wav/<utt-id>.wav``
  (16-bit PCM, 16 kHz, mono), skipping WAV files that are already complete;
* writes ``<data_dir>/librivox-<split>.csv`` with the header
  ``wav_filename,wav_filesize,transcript``, one row per utterance sorted by
  utterance id, ``wav_filename`` relative to ``data_dir``
  (``LibriSpeech/dev-clean-wav/1272-128104-0000.wav``).

Every file is written to a temporary name and renamed, so an interrupted run
leaves no half-written WAV or CSV and can simply be started again. Errors end
in one ``*** Error:`` line on stderr (exit code 1). Audio is
converted one utterance at a time and never held in memory as a whole.
"""

import argparse
import csv
import os
import sys
import unicodedata

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from open_seq2seq.utils.atomic import atomic_output, remove_temp_files  # noqa: E402  pylint: disable=wrong-import-position
from open_seq2seq.utils.metrics import words  # noqa: E402  pylint: disable=wrong-import-position
from open_seq2seq.utils.parallel import bounded_parallel_map  # noqa: E402  pylint: disable=wrong-import-position

import soundfile as sf

try:
  from tqdm import tqdm
except ImportError:  # pragma: no cover - tqdm is in requirements.txt
  tqdm = None


KNOWN_SPLITS = (
    "train-clean-100",
    "train-clean-360",
    "train-other-500",
    "dev-clean",
    "dev-other",
    "test-clean",
    "test-other",
)
SAMPLE_RATE = 16000
CSV_HEADER = ("wav_filename", "wav_filesize", "transcript")


class LibrivoxImportError(Exception):
  """A problem with the input corpus; the message names the file."""


def normalize_transcript(text):
  """NFKD, ASCII only (others dropped), lower case, stripped."""
  text = unicodedata.normalize("NFKD", text)
  return text.encode("ascii", "ignore").decode("ascii").lower().strip()


def find_splits(librispeech_dir):
  """Known split folders present in ``librispeech_dir`` (fixed order)."""
  return [s for s in KNOWN_SPLITS if os.path.isdir(os.path.join(librispeech_dir, s))]


def iter_transcript_files(split_dir):
  """Paths of the ``*.trans.txt`` files below ``split_dir``, sorted."""
  for root, dirs, files in os.walk(split_dir):
    dirs.sort()
    for name in sorted(files):
      if name.endswith(".trans.txt"):
        yield os.path.join(root, name)


def parse_transcript_file(path):
  """Yields ``(line number, utt_id, normalised transcript, problem)`` for each non-blank line of one file;
  ``problem`` describes a malformed line (then utt_id and transcript are None)."""
  try:
    with open(path, "rb") as f:
      data = f.read()
  except OSError as e:
    raise LibrivoxImportError("cannot read {}: {}".format(path, e))
  # A byte-order mark (Windows editors) would glue itself to the first utterance id; lines may end in \n,
  # \r\n or a lone \r (a \r left inside a line would end up in the CSV).
  if data.startswith(b"\xef\xbb\xbf"):
    data = data[3:]
  for number, raw in enumerate(data.splitlines(), 1):
    if b"\0" in raw:
      yield number, None, None, "{}:{}: holds a NUL byte (UTF-16 text? expected UTF-8)".format(path, number)
      continue
    try:
      line = raw.decode("utf-8")
    except UnicodeDecodeError:
      yield number, None, None, "{}:{}: not valid UTF-8".format(path, number)
      continue
    if not line.strip():
      continue
    parts = line.strip().split(None, 1)
    transcript = normalize_transcript(parts[1]) if len(parts) == 2 else ""
    # An id is a file name beside the transcript file; a transcript without a word would score WER 0.
    if not words(transcript) or "/" in parts[0] or "\\" in parts[0] or parts[0].startswith("."):
      yield number, None, None, "{}:{}: expected '<utterance-id> <TRANSCRIPT>', got {!r}".format(path, number, line)
      continue
    yield number, parts[0], transcript, None


PROBLEM_KINDS = ("malformed transcript line", "duplicate utterance id", "transcript line without a FLAC",
                 "FLAC without a transcript line")


def audit_split(split_dir, trans_files):
  """Pairs the transcript lines of ``split_dir`` with its FLAC files.

  Returns ``(jobs, problems)``: ``(utt_id, transcript, flac_path)`` of every utterance with exactly one
  transcript line and its FLAC beside it, and ``(kind, message)`` for everything else (a kind of
  PROBLEM_KINDS; every occurrence of a duplicate id is left out, as which one is right cannot be told).
  """
  entries, problems, duplicates = {}, [], set()
  for trans_path in trans_files:
    for number, utt_id, transcript, problem in parse_transcript_file(trans_path):
      flac_path = None if utt_id is None else os.path.join(os.path.dirname(trans_path), utt_id + ".flac")
      if problem:
        problems.append((PROBLEM_KINDS[0], problem))
      elif utt_id in entries:
        first = entries[utt_id][0]
        problems.append((PROBLEM_KINDS[1], "utterance id {} appears twice: in {}:{} and in {}:{}".format(
            utt_id, first[0], first[1], trans_path, number)))
        duplicates.add(utt_id)
        entries[utt_id].append((trans_path, number, transcript, flac_path))
      else:
        entries[utt_id] = [(trans_path, number, transcript, flac_path)]
  flacs = set()
  for root, _, files in os.walk(split_dir):
    flacs.update(os.path.join(root, name) for name in files if name.endswith(".flac"))
  jobs = []
  for utt_id, occurrences in entries.items():
    trans_path, number, transcript, flac_path = occurrences[0]
    if flac_path not in flacs:
      problems.append((PROBLEM_KINDS[2], "{}:{}: {}: missing audio file {}".format(
          trans_path, number, utt_id, flac_path)))
    elif utt_id not in duplicates:
      jobs.append((utt_id, transcript, flac_path))
  listed = {occurrence[3] for occurrences in entries.values() for occurrence in occurrences}
  for flac_path in sorted(flacs - listed):
    problems.append((PROBLEM_KINDS[3], "{}: no transcript line for {} in the *.trans.txt of its folder".format(
        flac_path, os.path.basename(flac_path)[:-len(".flac")])))
  return jobs, problems


def report_problems(split, problems, num_jobs, skip_incomplete):
  """Lists ``problems`` (one line each, on stderr) and their counts per kind; raises LibrivoxImportError
  unless ``skip_incomplete`` (then the ``num_jobs`` complete utterances are imported)."""
  for _, message in problems:
    print("  " + message, file=sys.stderr)
  counts = ", ".join("{}: {}".format(kind, sum(kind == k for k, _ in problems))
                     for kind in PROBLEM_KINDS if any(kind == k for k, _ in problems))
  summary = "{}: {} problem(s) between transcripts and FLAC files ({}), listed above".format(
      split, len(problems), counts)
  if not skip_incomplete:
    raise LibrivoxImportError(
        "{}; a complete LibriSpeech download has none: extract the archive again, or pass --skip_incomplete to "
        "import the {} complete utterances".format(summary, num_jobs))
  if not num_jobs:
    raise LibrivoxImportError("{}; no complete utterance is left to import".format(summary))
  print("import_librivox.py: warning: {}; --skip_incomplete: importing the {} complete utterances".format(
      summary, num_jobs), file=sys.stderr)


def report_bad_audio(split, rows, skip_incomplete):
  """``rows`` without those of audio that did not decode, which are listed (one line each, on stderr); raises
  LibrivoxImportError if there are any, unless ``skip_incomplete`` and some rows are left."""
  bad = sorted(row[3] for row in rows if row[1] is None)
  if not bad:
    return rows
  for message in bad:
    print("  " + message, file=sys.stderr)
  good = [row for row in rows if row[1] is not None]
  summary = "{}: {} FLAC file(s) that cannot be read or decoded, listed above".format(split, len(bad))
  if not skip_incomplete:
    raise LibrivoxImportError("{}; replace them, or pass --skip_incomplete to import the {} other utterances".format(
        summary, len(good)))
  if not good:
    raise LibrivoxImportError("{}; no utterance is left to import".format(summary))
  print("import_librivox.py: warning: {}; --skip_incomplete: importing the {} other utterances".format(
      summary, len(good)), file=sys.stderr)
  return good


def wav_is_complete(wav_path, frames):
  """True if ``wav_path`` is a readable 16 kHz mono 16-bit WAV of ``frames``."""
  try:
    info = sf.info(wav_path)
  except (RuntimeError, OSError):
    return False
  return (info.format == "WAV" and info.subtype == "PCM_16"
          and info.samplerate == SAMPLE_RATE and info.channels == 1
          and info.frames == frames)


def check_flac(flac_path):
  """Header checks of a LibriSpeech FLAC (exists, readable, 16 kHz, mono); returns its soundfile info.
  Raises LibrivoxImportError naming the file."""
  if not os.path.isfile(flac_path):
    raise LibrivoxImportError("missing audio file {}".format(flac_path))
  try:
    info = sf.info(flac_path)
  except (RuntimeError, OSError) as e:
    raise LibrivoxImportError("cannot read audio file {}: {}".format(flac_path, e))
  if info.samplerate != SAMPLE_RATE:
    raise LibrivoxImportError("{} has a sample rate of {} Hz, expected {} Hz".format(
        flac_path, info.samplerate, SAMPLE_RATE))
  if info.channels != 1:
    raise LibrivoxImportError("{} has {} channels, expected mono".format(flac_path, info.channels))
  return info


def decode_flac(flac_path, info):
  """int16 samples ``[N]`` of a FLAC whose header ``info`` check_flac read; raises LibrivoxImportError naming
  the file when it does not decode to the end (truncated, damaged frames)."""
  try:
    data, _ = sf.read(flac_path, dtype="int16")
  except (RuntimeError, OSError) as e:
    raise LibrivoxImportError("cannot decode audio file {}: {}".format(flac_path, e))
  if len(data) != info.frames:
    raise LibrivoxImportError("{} is truncated or corrupt: decoded {} of {} samples".format(
        flac_path, len(data), info.frames))
  return data


def convert_flac(flac_path, wav_path):
  """FLAC -> 16-bit PCM WAV (atomic); returns the WAV size in bytes.

  Skips the conversion when a complete WAV is already there.
  """
  info = check_flac(flac_path)
  if not wav_is_complete(wav_path, info.frames):
    data = decode_flac(flac_path, info)
    with atomic_output(wav_path) as tmp:
      sf.write(tmp, data, SAMPLE_RATE, subtype="PCM_16", format="WAV")
  return os.path.getsize(wav_path)


def import_split(data_dir, split, workers=4, show_progress=True, keep_flac=False, skip_incomplete=False):
  """Converts one split (or, with ``keep_flac``, lists its FLAC files as they are, which the data layer
  reads directly); returns the path of the CSV file written. Transcript lines and FLAC files that do not
  pair up are listed and an error, or with ``skip_incomplete`` left out (see audit_split)."""
  librispeech_dir = os.path.join(data_dir, "LibriSpeech")
  split_dir = os.path.join(librispeech_dir, split)
  if not os.path.isdir(split_dir):
    raise LibrivoxImportError("split folder {} not found".format(split_dir))
  trans_files = list(iter_transcript_files(split_dir))
  if not trans_files:
    raise LibrivoxImportError("no *.trans.txt files below {}".format(split_dir))
  jobs, problems = audit_split(split_dir, trans_files)
  if problems:
    report_problems(split, problems, len(jobs), skip_incomplete)

  wav_dir_rel = "LibriSpeech/{}-wav".format(split)
  wav_dir = os.path.join(data_dir, *wav_dir_rel.split("/"))
  if not keep_flac:
    os.makedirs(wav_dir, exist_ok=True)
    remove_temp_files(wav_dir)

  def work(job):
    """The CSV row of one utterance, or ``(utt_id, None, None, problem)`` for audio that does not decode, so
    that every bad file of the split is listed at once."""
    utt_id, transcript, flac_path = job
    try:
      if keep_flac:
        # The data layer reads these files as they are: damage must be found now, not hours into training.
        decode_flac(flac_path, check_flac(flac_path))
        relative = os.path.relpath(flac_path, data_dir).replace(os.sep, "/")
        return (utt_id, relative, os.path.getsize(flac_path), transcript)
      size = convert_flac(flac_path, os.path.join(wav_dir, utt_id + ".wav"))
    except LibrivoxImportError as e:
      return (utt_id, None, None, str(e))
    return (utt_id, "{}/{}.wav".format(wav_dir_rel, utt_id), size, transcript)

  bar = None
  if show_progress and tqdm is not None:
    bar = tqdm(total=len(jobs), unit="utt", desc=split, dynamic_ncols=True)
  rows = list(bounded_parallel_map(work, jobs, workers, bar))
  rows = report_bad_audio(split, rows, skip_incomplete)
  rows.sort(key=lambda row: row[0])
  csv_path = os.path.join(data_dir, "librivox-{}.csv".format(split))
  with atomic_output(csv_path) as tmp, open(tmp, "w", newline="", encoding="ascii") as f:
    writer = csv.writer(f, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for _, wav_rel, size, transcript in rows:
      writer.writerow((wav_rel, size, transcript))
  return csv_path


def import_librivox(data_dir, splits=None, workers=4, show_progress=True, log=print, keep_flac=False,
                    skip_incomplete=False):
  """Imports ``splits`` (default: every known split present); returns CSVs."""
  librispeech_dir = os.path.join(data_dir, "LibriSpeech")
  if not os.path.isdir(librispeech_dir):
    raise LibrivoxImportError("no LibriSpeech folder in {}: extract the OpenSLR-12 archives (or run "
                              "scripts/build_mini_corpus.py) so that {} exists".format(data_dir, librispeech_dir))
  if not splits:
    splits = find_splits(librispeech_dir)
    if not splits:
      raise LibrivoxImportError("{} holds none of the split folders {}".format(
          librispeech_dir, ", ".join(KNOWN_SPLITS)))
  csv_paths = []
  for split in splits:
    csv_path = import_split(data_dir, split, workers, show_progress, keep_flac, skip_incomplete)
    log("{}: wrote {}".format(split, csv_path))
    csv_paths.append(csv_path)
  return csv_paths


def parse_args(argv=None):
  parser = argparse.ArgumentParser(
      description="Convert <data_dir>/LibriSpeech/<split> FLAC files to WAV and write "
                  "<data_dir>/librivox-<split>.csv (OpenSeq2Seq format, paths relative to data_dir). "
                  "Nothing is downloaded.")
  parser.add_argument("--data_dir", required=True, help="folder that contains LibriSpeech/")
  parser.add_argument("--keep_flac", action="store_true",
                      help="list the FLAC files in the CSVs instead of converting them to WAV "
                           "(the data layer reads FLAC directly; saves the WAV copy's disk space)")
  parser.add_argument("--skip_incomplete", action="store_true",
                      help="import the utterances whose transcript line and FLAC file pair up and "
                           "whose FLAC decodes, and list the rest (FLAC without a line, line without a "
                           "FLAC, duplicate ids, malformed lines, unreadable or damaged FLAC); without "
                           "it any of these is an error")
  parser.add_argument("--splits", nargs="+", default=None,
                      help="splits to import, space- or comma-separated (default: every one of {} found "
                           "under LibriSpeech/)".format(", ".join(KNOWN_SPLITS)))
  parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1),
                      help="parallel conversions (default: %(default)s)")
  return parser.parse_args(argv)


def main(argv=None):
  args = parse_args(argv)
  splits = None
  if args.splits:
    splits = [s for item in args.splits for s in item.split(",") if s]
  try:
    import_librivox(args.data_dir, splits, args.workers, keep_flac=args.keep_flac,
                    skip_incomplete=args.skip_incomplete)
  except (LibrivoxImportError, OSError) as e:
    print("*** Error: {}".format(e), file=sys.stderr)
    return 1
  except KeyboardInterrupt:
    print("import_librivox.py: interrupted; run the same command again to resume", file=sys.stderr)
    return 130
  return 0


if __name__ == "__main__":
  sys.exit(main())

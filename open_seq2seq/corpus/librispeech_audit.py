"""Pairing a LibriSpeech split's transcript lines with its FLAC files, and listing what does not pair up.

A split holds ``<speaker>/<chapter>/<speaker>-<chapter>.trans.txt`` files, each line ``<utt-id> <TRANSCRIPT>``,
and one ``<utt-id>.flac`` per line beside them (open_seq2seq/corpus/layout.py writes the same tree).
Problems are listed on stderr, one line each, and are an error unless the import skips incomplete utterances.
"""
import os
import sys
import unicodedata

from open_seq2seq.corpus.errors import LibrivoxImportError
from open_seq2seq.utils.metrics import words

PROBLEM_KINDS = ("malformed transcript line", "duplicate utterance id", "transcript line without a FLAC",
                 "FLAC without a transcript line")


def normalize_transcript(text):
  """NFKD, ASCII only (others dropped), lower case, stripped."""
  text = unicodedata.normalize("NFKD", text)
  return text.encode("ascii", "ignore").decode("ascii").lower().strip()


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
    raise LibrivoxImportError("cannot read {}: {}".format(path, e)) from e
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

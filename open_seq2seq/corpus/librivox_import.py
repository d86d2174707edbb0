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

from open_seq2seq.corpus.errors import LibrivoxImportError
from open_seq2seq.corpus.flac_to_wav import check_flac, convert_flac, decode_flac
from open_seq2seq.corpus.librispeech_audit import audit_split, iter_transcript_files, report_problems
from open_seq2seq.utils.atomic import atomic_output, remove_temp_files
from open_seq2seq.utils.cli import one_line_errors
from open_seq2seq.utils.parallel import bounded_parallel_map

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
CSV_HEADER = ("wav_filename", "wav_filesize", "transcript")


def manifest_name(split):
  """``librivox-<split>.csv``, the manifest name of a split in the corpus folder."""
  return "librivox-{}.csv".format(split)


def find_splits(librispeech_dir):
  """Known split folders present in ``librispeech_dir`` (fixed order)."""
  return [s for s in KNOWN_SPLITS if os.path.isdir(os.path.join(librispeech_dir, s))]


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
  csv_path = os.path.join(data_dir, manifest_name(split))
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
  """Parses the command line ``argv`` (None: sys.argv[1:]) of the LibriSpeech importer; returns the Namespace."""
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


@one_line_errors(errors=(LibrivoxImportError, OSError),
                 interrupted="import_librivox.py: interrupted; run the same command again to resume")
def main(argv=None):
  """Imports as the command line ``argv`` (default: sys.argv[1:]) says; returns 0, or 1 after one ``*** Error:``
  line on stderr for a problem with the corpus, or 130 when interrupted (run it again to resume)."""
  args = parse_args(argv)
  splits = None
  if args.splits:
    splits = [s for item in args.splits for s in item.split(",") if s]
  import_librivox(args.data_dir, splits, args.workers, keep_flac=args.keep_flac,
                  skip_incomplete=args.skip_incomplete)
  return 0

"""OpenSeq2Seq CSV manifests: header ``wav_filename,wav_filesize,transcript``."""
import collections
import csv
import io
import os
import re

from open_seq2seq.utils.files import refuse_special_file

# A carriage return that is not part of a line ending (\r\n, \r\r\n, or the end of the text).
_STRAY_CR = re.compile(r"\r(?!\r*(\n|$))")

ManifestRow = collections.namedtuple("ManifestRow", ["path", "transcript", "csv_file", "row_number", "wav_filename"])


def read_csv(csv_file):
  """``(header names, [(line number, fields)])`` of a UTF-8 CSV file (a byte-order mark is allowed).

  Blank lines are skipped; header names are stripped of surrounding spaces. Raises ValueError naming the
  file and line for text that is not UTF-8, for a NUL byte, for a carriage return inside a line (not part of
  its line ending) and for broken quoting: a ``"`` never closed, text after a closing ``"``, or a field that
  holds a line break. No manifest or transcript field legitimately holds one: such a field is an unclosed
  quote that swallowed the rows after it, and a stray carriage return would split its row in two; either
  would otherwise make rows vanish or change silently.
  """
  with open(csv_file, "rb") as handle:
    data = handle.read()
  try:
    text = data.decode("utf-8-sig")
  except UnicodeDecodeError as error:
    raise ValueError("{}: not a readable UTF-8 CSV file (line {}: {})".format(
        csv_file, data.count(b"\n", 0, error.start) + 1, error)) from error
  _check_line_breaks(csv_file, text)
  records = []
  # \r\r\n counts as one line ending, so that line numbers match an editor's.
  reader = csv.reader(io.StringIO(re.sub(r"\r+\n", "\n", text), newline=""), strict=True)
  while True:
    start = reader.line_num + 1
    try:
      fields = next(reader)
    except StopIteration:
      break
    except csv.Error as error:
      raise ValueError("{} line {}: malformed CSV ({}), e.g. a '\"' opened in this row that is never closed or "
                       "is followed by text".format(csv_file, start, error)) from error
    if any("\n" in field or "\r" in field for field in fields):
      raise ValueError("{} line {}: a quoted field runs on to line {}: a '\"' opened in this row swallows the "
                       "line breaks and rows after it (close the quote)".format(csv_file, start, reader.line_num))
    if fields:
      records.append((start, fields))
  if not records:
    return None, []
  return [name.strip() for name in records[0][1]], records[1:]


def _check_line_breaks(csv_file, text):
  """Raises ValueError naming the line of the first NUL byte or carriage return that does not end a line
  (\r\n, \r\r\n of a twice-converted file, and files whose every line ends in a lone \r, old Mac style, are
  accepted)."""
  position = text.find("\0")
  if position >= 0:
    raise ValueError("{} line {}: a NUL byte (binary data, or UTF-16 text saved without its byte-order mark); "
                     "expected UTF-8 text".format(csv_file, text.count("\n", 0, position) + 1))
  stray = _STRAY_CR.search(text) if "\n" in text else None
  if stray:
    raise ValueError("{} line {}: a carriage return (\\r) inside the line would split its row in two; "
                     "remove it".format(csv_file, text.count("\n", 0, stray.start()) + 1))


# The environment variables the shipped configs (configs/speech2text/) take their dataset folder from.
DATASET_ROOT_VARIABLES = ("LIBRISPEECH_ROOT", "JASPER_MINI_CORPUS")


def _dataset_root_hint(csv_file):
  """For a missing manifest named as the LibriSpeech importer names them (librivox-*.csv): where the shipped
  configs look for it, so the user knows which variable to set; "" for any other name."""
  if not os.path.basename(csv_file).startswith("librivox-"):
    return ""
  values = ", ".join("{}={}".format(name, os.environ[name]) if name in os.environ else "{} unset".format(name)
                     for name in DATASET_ROOT_VARIABLES)
  return (" (the LibriSpeech configs read the dataset folder from LIBRISPEECH_ROOT, default /data/librispeech; "
          "the mini and tiny configs from JASPER_MINI_CORPUS; now {}; scripts/import_librivox.py writes the "
          "librivox-*.csv files)".format(values))


def read_manifests(dataset_files, dataset_root=None, need_transcripts=True, bad_rows=None):
  """Rows of every CSV as ``ManifestRow`` (resolved audio path, transcript, CSV file, row, raw name).

  A relative ``wav_filename`` is resolved against ``dataset_root`` when given, else against the
  directory of its CSV file (the importer writes paths relative to the CSV). A row with the wrong
  number of fields raises, or, when a ``bad_rows`` list is given, is appended to it and skipped. Broken
  quoting always raises (see ``read_csv``): the rows after it cannot be trusted.
  """
  rows = []
  for csv_file in dataset_files:
    if not os.path.exists(csv_file):
      raise ValueError("Dataset file not found: {}{}".format(csv_file, _dataset_root_hint(csv_file)))
    refuse_special_file(csv_file)
    base_dir = dataset_root if dataset_root else os.path.dirname(os.path.abspath(csv_file))
    rows.extend(_read_manifest(csv_file, base_dir, need_transcripts, bad_rows))
  return rows


def read_transcripts(csv_file):
  """``{wav_filename as written: transcript}`` of one manifest (the references of a WER); a file listed twice
  is a ValueError naming both rows."""
  rows = read_manifests([csv_file])
  refuse_duplicates(rows)
  return {row.wav_filename: row.transcript for row in rows}


def refuse_duplicates(rows):
  """Raises ValueError naming both rows when two ``ManifestRow``s name the same audio file (after resolving
  paths): a WER or a prediction file counts each utterance once, so a repeated row means manifests were
  concatenated by mistake."""
  first = {}
  for row in rows:
    key = os.path.normpath(os.path.abspath(row.path))
    if key in first:
      earlier = first[key]
      where = ("{} rows {} and {}".format(row.csv_file, earlier.row_number, row.row_number)
               if earlier.csv_file == row.csv_file else
               "{} row {} and {} row {}".format(earlier.csv_file, earlier.row_number, row.csv_file, row.row_number))
      raise ValueError("{}: {} is listed twice".format(where, row.wav_filename))
    first[key] = row


def _read_manifest(csv_file, base_dir, need_transcripts, bad_rows):
  """The rows of one CSV manifest (see read_manifests)."""
  rows = []
  header, records = read_csv(csv_file)
  if header is None:
    raise ValueError("{}: the file is empty; expected a header 'wav_filename,wav_filesize,transcript' and rows".format(
        csv_file))
  if "wav_filename" not in header:
    raise ValueError("{}: expected a header with 'wav_filename' (and 'transcript'), got {}".format(csv_file, header))
  path_col = header.index("wav_filename")
  text_col = header.index("transcript") if "transcript" in header else None
  if need_transcripts and text_col is None:
    raise ValueError("{}: no 'transcript' column in header {}".format(csv_file, header))
  for row_number, row in records:
    problem = None
    if len(row) != len(header):
      problem = "{} row {}: expected {} fields ({}), got {}".format(
          csv_file, row_number, len(header), ",".join(header), len(row))
    elif [field.strip() for field in row] == header:
      problem = "{} row {}: repeats the header (manifests concatenated?); expected an utterance".format(
          csv_file, row_number)
    if problem:
      if bad_rows is None:
        raise ValueError(problem)
      bad_rows.append(problem)
      continue
    path = os.path.join(base_dir, row[path_col])
    transcript = row[text_col] if text_col is not None else ""
    rows.append(ManifestRow(path, transcript, csv_file, row_number, row[path_col]))
  return rows

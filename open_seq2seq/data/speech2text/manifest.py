"""OpenSeq2Seq CSV manifests: header ``wav_filename,wav_filesize,transcript``."""
import collections
import csv
import os

ManifestRow = collections.namedtuple("ManifestRow", ["path", "transcript", "csv_file", "row_number", "wav_filename"])


def read_manifests(dataset_files, dataset_root=None, need_transcripts=True, bad_rows=None):
  """Rows of every CSV as ``ManifestRow`` (resolved audio path, transcript, CSV file, row, raw name).

  A relative ``wav_filename`` is resolved against ``dataset_root`` when given, else against the
  directory of its CSV file (the importer writes paths relative to the CSV). A row with the wrong
  number of fields raises, or, when a ``bad_rows`` list is given, is appended to it and skipped.
  """
  rows = []
  for csv_file in dataset_files:
    if not os.path.isfile(csv_file):
      raise ValueError("Dataset file not found: {}".format(csv_file))
    base_dir = dataset_root if dataset_root else os.path.dirname(os.path.abspath(csv_file))
    try:
      rows.extend(_read_manifest(csv_file, base_dir, need_transcripts, bad_rows))
    except (UnicodeDecodeError, csv.Error) as error:
      raise ValueError("{}: not a readable UTF-8 CSV manifest ({})".format(csv_file, error)) from error
  return rows


def _read_manifest(csv_file, base_dir, need_transcripts, bad_rows):
  """The rows of one CSV manifest (see read_manifests)."""
  rows = []
  with open(csv_file, newline="", encoding="utf-8") as handle:
    reader = csv.reader(handle)
    header = next(reader, None)
    if header is None or "wav_filename" not in header:
      raise ValueError("{}: expected a header with 'wav_filename' (and 'transcript'), got {}".format(
          csv_file, header))
    path_col = header.index("wav_filename")
    text_col = header.index("transcript") if "transcript" in header else None
    if need_transcripts and text_col is None:
      raise ValueError("{}: no 'transcript' column in header {}".format(csv_file, header))
    for row_number, row in enumerate(reader, start=2):
      if not row:
        continue
      if len(row) != len(header):
        problem = "{} row {}: expected {} fields ({}), got {}".format(
            csv_file, row_number, len(header), ",".join(header), len(row))
        if bad_rows is None:
          raise ValueError(problem)
        bad_rows.append(problem)
        continue
      path = os.path.join(base_dir, row[path_col])
      transcript = row[text_col] if text_col is not None else ""
      rows.append(ManifestRow(path, transcript, csv_file, row_number, row[path_col]))
  return rows

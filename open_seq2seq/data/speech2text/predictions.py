"""The predictions CSV: what ``run.py --mode=infer``, ``scripts/decode.py`` and online inference write and
``scripts/wer_of_predictions.py`` scores.

A header ``wav_filename,predicted_transcript`` (OpenSeq2Seq's columns), then one row per utterance in manifest
order: the manifest's ``wav_filename`` as written there and the transcript. UTF-8 without byte-order mark, the
``csv`` module's default dialect (fields with a comma, quote or line break quoted, ``\\r\\n`` line endings).
"""
import csv

from open_seq2seq.utils.atomic import atomic_output
from .manifest import read_csv

COLUMNS = ["wav_filename", "predicted_transcript"]


def write_predictions(path, wav_filenames, transcripts):
  """Writes the rows ``(wav_filenames[i], transcripts[i])`` under the header to ``path``, atomically (an
  interrupted run leaves no half-written file under that name). Raises ValueError when the two lists differ in
  length."""
  if len(wav_filenames) != len(transcripts):
    raise ValueError("{}: {} file names but {} transcripts".format(path, len(wav_filenames), len(transcripts)))
  with atomic_output(path) as tmp_file, open(tmp_file, "w", newline="", encoding="utf-8") as handle:
    write_prediction_rows(handle, wav_filenames, transcripts)


def write_prediction_rows(handle, wav_filenames, transcripts):
  """Writes the header and the rows ``(wav_filenames[i], transcripts[i])`` to the open text ``handle`` (opened
  with ``newline=""``, or a console stream), in the format of ``write_predictions``."""
  writer = csv.writer(handle)
  writer.writerow(COLUMNS)
  writer.writerows(zip(wav_filenames, transcripts))


def read_predictions(path):
  """``{wav_filename: predicted_transcript}`` of a predictions CSV, in file order. Extra columns are allowed.

  Raises ValueError naming the file (and line) for a file that is not strict UTF-8 CSV (see ``read_csv``), a
  header without both columns, a short or long row, a repeated header and a file predicted twice.
  """
  header, records = read_csv(path)
  if header is None or any(column not in header for column in COLUMNS):
    raise ValueError("{}: expected columns wav_filename and predicted_transcript, got {}".format(path, header))
  key, value = (header.index(column) for column in COLUMNS)
  predictions, lines = {}, {}
  for line, fields in records:
    if len(fields) != len(header):
      raise ValueError("{} line {}: expected {} fields ({}), got {}".format(
          path, line, len(header), ",".join(header), len(fields)))
    if [field.strip() for field in fields] == header:
      raise ValueError("{} line {}: repeats the header (files concatenated?); expected a prediction".format(path, line))
    if fields[key] in lines:
      raise ValueError("{} lines {} and {}: two predictions for {}".format(
          path, lines[fields[key]], line, fields[key]))
    lines[fields[key]] = line
    predictions[fields[key]] = fields[value]
  return predictions

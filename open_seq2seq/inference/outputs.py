"""What the transcribe tool writes, one entry per transcribed file in input order:

- ``csv``: the predictions CSV of run.py --mode=infer (``wav_filename,predicted_transcript``,
  data/speech2text/predictions.py), which scripts/wer_of_predictions.py scores;
- ``json``: JSON lines, one object per file: ``{"wav_filename", "transcript", "duration"}`` (seconds), plus
  ``"words"`` with --word_timestamps / --word_confidence: ``[{"word", "start", "end", "confidence"}]`` (seconds;
  decoders/ctc_alignment.py defines them), each key only when asked for;
- ``text``: the transcripts alone, one a line (use csv or json to keep the file names).

A file is written atomically (an interrupted run leaves no half-written file under its name); without one the
output goes to stdout.
"""
import json
import os

from open_seq2seq.data.speech2text.predictions import write_prediction_rows
from open_seq2seq.utils.atomic import atomic_output

FORMATS = ("csv", "json", "text")
_BY_EXTENSION = {".csv": "csv", ".json": "json", ".jsonl": "json", ".txt": "text"}
# Times and confidences are rounded to what they can mean: a logit frame is 20 ms, a confidence a mean.
_DECIMALS = 3


def output_format(name, output_file):
  """The format ``--output_format name`` asks for or, without it, the one ``output_file``'s extension names
  (.csv, .json/.jsonl, .txt), csv otherwise. Raises ValueError for an unknown name."""
  if name is None:
    return _BY_EXTENSION.get(os.path.splitext(output_file or "")[1].lower(), "csv")
  if name not in FORMATS:
    raise ValueError("--output_format must be one of {}, got {!r}".format(", ".join(FORMATS), name))
  return name


def json_record(result, timestamps, confidence):
  """The JSON object of one result (``{"wav_filename", "transcript", "duration", "words"}``, the words as
  ctc_alignment.word_alignments gives them), with the word keys asked for."""
  record = {"wav_filename": result["wav_filename"], "transcript": result["transcript"],
            "duration": round(result["duration"], _DECIMALS)}
  if timestamps or confidence:
    keys = (["start", "end"] if timestamps else []) + (["confidence"] if confidence else [])
    record["words"] = [dict({"word": word["word"]}, **{key: round(word[key], _DECIMALS) for key in keys})
                       for word in result["words"]]
  return record


def write_results(handle, fmt, results, timestamps=False, confidence=False):
  """Writes ``results`` (dicts of json_record's keys) in format ``fmt`` to the open text ``handle``."""
  if fmt == "csv":
    write_prediction_rows(handle, [r["wav_filename"] for r in results], [r["transcript"] for r in results])
  elif fmt == "json":
    for result in results:
      handle.write(json.dumps(json_record(result, timestamps, confidence), ensure_ascii=False) + "\n")
  else:
    for result in results:
      handle.write(result["transcript"] + "\n")


def write_output(output_file, stdout, fmt, results, timestamps=False, confidence=False):
  """Writes ``results`` to ``output_file`` atomically, or to the ``stdout`` stream when it is None."""
  if output_file is None:
    write_results(stdout, fmt, results, timestamps, confidence)
    stdout.flush()
    return
  with atomic_output(output_file) as tmp_file, open(tmp_file, "w", newline="", encoding="utf-8") as handle:
    write_results(handle, fmt, results, timestamps, confidence)

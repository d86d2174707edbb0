"""Corpus WER of an inference CSV (wav_filename,predicted_transcript) against a manifest.

Insertions against a blank reference count; references without any word are an error (the WER is undefined,
not 0), and so are a manifest row without a prediction, a prediction of a file the manifest does not list and a
file listed twice. Errors end in one ``*** Error:`` line on stderr (exit code 1).

With ``--conditions`` (the mini corpus's dev-other/CONDITIONS.TXT: ``utt_id condition {params}`` lines) a
Markdown table of the WER per recording condition follows the overall figure.
"""
import argparse
import os

from open_seq2seq.data.speech2text.manifest import read_transcripts
from open_seq2seq.data.speech2text.predictions import read_predictions
from open_seq2seq.utils.cli import one_line_errors
from open_seq2seq.utils.metrics import corpus_wer


def main(argv=None):
  """Prints the WER as the command line ``argv`` (default: sys.argv[1:]) asks; returns 0. Raises ValueError for
  files that do not match or hold no words, OSError for a file that cannot be read."""
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("--predictions", required=True)
  parser.add_argument("--manifest", required=True)
  parser.add_argument("--conditions", help="CONDITIONS.TXT of the utterances: adds a WER table per condition")
  args = parser.parse_args(argv)
  predictions = read_predictions(args.predictions)
  references = read_transcripts(args.manifest)
  check_rows_match(references, predictions, args.predictions, args.manifest)
  names = sorted(references)
  print("{:.6f}".format(corpus_wer([references[n] for n in names], [predictions[n] for n in names],
                                   source=args.manifest)))
  if args.conditions:
    print_condition_table(names, references, predictions, read_conditions(args.conditions), args.manifest)
  return 0


def check_rows_match(references, predictions, predictions_file, manifest):
  """Raises ValueError when a manifest row has no prediction or a prediction names a file the manifest does not
  list (predictions of another manifest, or of differently written paths: a WER of the overlap would look
  complete); the message gives both counts and an example of each."""
  missing = sorted(set(references) - set(predictions))
  extra = sorted(set(predictions) - set(references))
  if missing or extra:
    raise ValueError("{} does not match {}: {} manifest rows without a prediction{}, {} predictions of files the "
                     "manifest does not list{}".format(
                         predictions_file, manifest, len(missing), " (e.g. {})".format(missing[0]) if missing else "",
                         len(extra), " (e.g. {})".format(extra[0]) if extra else ""))


def read_conditions(path):
  """{utt_id: condition name} of a CONDITIONS.TXT file."""
  conditions = {}
  with open(path, encoding="utf-8", errors="strict") as handle:
    lines = _text_lines(handle, path)
    for number, line in enumerate(lines, start=1):
      fields = line.split(None, 2)
      if not fields:
        continue
      if len(fields) < 2:
        raise ValueError("{} line {}: expected 'utt_id condition [params]', got {!r}".format(path, number, line))
      if fields[0] in conditions:
        raise ValueError("{} line {}: utterance {} is listed twice".format(path, number, fields[0]))
      conditions[fields[0]] = fields[1]
  return conditions


def _text_lines(handle, path):
  try:
    return handle.read().splitlines()
  except UnicodeDecodeError as error:
    raise ValueError("{}: not UTF-8 text ({})".format(path, error)) from error


def print_condition_table(names, references, predictions, conditions, manifest):
  """Prints the Markdown table of the WER per condition; ValueError for an utterance without a condition."""
  by_condition = {}
  for name in names:
    utt_id = os.path.splitext(os.path.basename(name))[0]
    if utt_id not in conditions:
      raise ValueError("no condition listed for {} ({})".format(utt_id, name))
    by_condition.setdefault(conditions[utt_id], []).append(name)
  print("| condition | utterances | WER (%) |")
  print("|---|---|---|")
  for condition, members in sorted(by_condition.items()):
    wer = corpus_wer([references[n] for n in members], [predictions[n] for n in members],
                     source="{} (condition {})".format(manifest, condition))
    print("| {} | {} | {:.2f} |".format(condition, len(members), 100 * wer))


# The entry point of scripts/wer_of_predictions.py and the console script jasper-wer.
cli = one_line_errors()(main)

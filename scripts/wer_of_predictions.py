#!/usr/bin/env python
"""Corpus WER of an inference CSV (wav_filename,predicted_transcript) against a manifest."""
import argparse
import csv
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from open_seq2seq.utils.metrics import corpus_wer  # pylint: disable=wrong-import-position


def read_column_pairs(path, key, value):
  with open(path, newline="", encoding="utf-8") as handle:
    reader = csv.DictReader(handle)
    if key not in reader.fieldnames or value not in reader.fieldnames:
      raise ValueError("{}: expected columns {} and {}, got {}".format(path, key, value, reader.fieldnames))
    return {row[key]: row[value] for row in reader}


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("--predictions", required=True)
  parser.add_argument("--manifest", required=True)
  args = parser.parse_args(argv)
  predictions = read_column_pairs(args.predictions, "wav_filename", "predicted_transcript")
  references = read_column_pairs(args.manifest, "wav_filename", "transcript")
  missing = sorted(set(references) - set(predictions))
  if missing:
    raise ValueError("{}: no prediction for {} manifest rows, e.g. {}".format(args.predictions, len(missing), missing[0]))
  names = sorted(references)
  print("{:.6f}".format(corpus_wer([references[n] for n in names], [predictions[n] for n in names])))
  return 0


if __name__ == "__main__":
  sys.exit(main())

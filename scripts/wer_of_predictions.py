#!/usr/bin/env python
"""Corpus WER of an inference CSV against a manifest: the command line of
open_seq2seq/data/speech2text/wer_of_predictions.py (console script ``jasper-wer``), whose docstring and --help
give the usage."""
import sys

from open_seq2seq.data.speech2text.wer_of_predictions import cli

if __name__ == "__main__":
  sys.exit(cli())

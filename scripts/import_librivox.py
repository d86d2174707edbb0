#!/usr/bin/env python
"""Extracted LibriSpeech corpus -> WAV files and CSV manifests: the command line of
open_seq2seq/corpus/librivox_import.py (console script ``jasper-import-librivox``), whose docstring and --help
give the usage."""
import sys

from open_seq2seq.corpus.librivox_import import main

if __name__ == "__main__":
  sys.exit(main())

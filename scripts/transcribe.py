#!/usr/bin/env python
"""Transcribe audio files, folders and manifests with a trained model: the command line of
open_seq2seq/inference/transcribe.py (console script ``jasper-transcribe``), whose docstring and --help give the
usage."""
import sys

from open_seq2seq.inference.transcribe import cli

if __name__ == "__main__":
  sys.exit(cli())

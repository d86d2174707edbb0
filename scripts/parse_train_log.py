#!/usr/bin/env python
"""Performance summary of a training log in the reference CI's format: the command line of
open_seq2seq/training/train_log.py (console script ``jasper-parse-train-log``), whose docstring and --help give
the usage."""
import sys

from open_seq2seq.training.train_log import main

if __name__ == "__main__":
  sys.exit(main())

#!/usr/bin/env python
"""Training runs side by side (WER per decoded set, proxy conditions, dev WER during training): the command line
of open_seq2seq/training/run_comparison.py (console script ``jasper-compare-runs``), whose docstring and --help
give the usage."""
import sys

from open_seq2seq.training.run_comparison import cli

if __name__ == "__main__":
  sys.exit(cli())

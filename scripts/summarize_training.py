#!/usr/bin/env python
"""Training report of a logdir (plot, Markdown table, summary): the command line of open_seq2seq/training/report.py
(console script ``jasper-summarize-training``), whose docstring and --help give the usage."""
import sys

from open_seq2seq.training.report import main

if __name__ == "__main__":
  sys.exit(main())

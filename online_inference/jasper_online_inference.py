#!/usr/bin/env python
"""Online inference from a frozen Jasper graph: the command line of open_seq2seq/export/jasper_online_inference.py
(console script ``jasper-online-inference``), whose docstring and --help give the usage."""
import sys

from open_seq2seq.export.jasper_online_inference import cli

if __name__ == "__main__":
  sys.exit(cli())

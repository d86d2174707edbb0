#!/usr/bin/env python
"""Checkpoint -> frozen inference graph (.pb): the command line of open_seq2seq/export/ckpt2pb.py (console script
``jasper-ckpt2pb``), whose docstring and --help give the usage."""
import sys

from open_seq2seq.export.ckpt2pb import cli

if __name__ == "__main__":
  sys.exit(cli())

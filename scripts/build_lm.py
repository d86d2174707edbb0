#!/usr/bin/env python
"""Word n-gram language model (Kneser-Ney, ARPA) from text: the command line of open_seq2seq/decoders/lm/build.py
(console script ``jasper-build-lm``), whose docstring and --help give the usage."""
import sys

from open_seq2seq.decoders.lm.build import cli

if __name__ == "__main__":
  sys.exit(cli())

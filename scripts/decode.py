#!/usr/bin/env python
"""CTC beam-search decoding of a logits dump with a word n-gram LM: the command line of
open_seq2seq/decoders/lm_decode.py (console script ``jasper-decode``), whose docstring and --help give the usage."""
import sys

from open_seq2seq.decoders.lm_decode import cli

if __name__ == "__main__":
  sys.exit(cli())

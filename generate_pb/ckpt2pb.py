#!/usr/bin/env python
"""Checkpoint -> frozen inference graph (.pb): the command line of open_seq2seq/export/ckpt2pb.py, whose
docstring and --help give the usage (docs/export.md)."""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from open_seq2seq.export.ckpt2pb import main  # noqa: E402  pylint: disable=wrong-import-position

if __name__ == "__main__":
  try:
    sys.exit(main())
  except (ValueError, IOError) as error:
    sys.stderr.write("*** Error: {}\n".format(error))
    sys.exit(1)

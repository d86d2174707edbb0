#!/usr/bin/env python
"""Synthesise a small LibriSpeech-layout speech corpus with espeak-ng from the sentences of the fortunes
collection: the command line of open_seq2seq/corpus/build.py (run with --help for its flags).

The output layout is open_seq2seq/corpus/layout.py's. Given the same arguments and seed the output is
byte-identical; an interrupted build can be resumed by running the same command again.

Example::

    python scripts/build_mini_corpus.py --output_dir data/mini
    python scripts/import_librivox.py --data_dir data/mini
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from open_seq2seq.corpus.build import main  # noqa: E402  pylint: disable=wrong-import-position

if __name__ == "__main__":
  sys.exit(main())

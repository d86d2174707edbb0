#!/usr/bin/env python
"""Synthesise a small LibriSpeech-layout speech corpus with espeak-ng from the sentences of the fortunes
collection: the command line of open_seq2seq/corpus/build.py (console script ``jasper-build-mini-corpus``; run
with --help for its flags).

The output layout is open_seq2seq/corpus/layout.py's. Given the same arguments and seed the output is
byte-identical; an interrupted build can be resumed by running the same command again.

Example::

    python scripts/build_mini_corpus.py --output_dir data/mini
    python scripts/import_librivox.py --data_dir data/mini
"""
import sys

from open_seq2seq.corpus.build import main

if __name__ == "__main__":
  sys.exit(main())

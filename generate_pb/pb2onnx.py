#!/usr/bin/env python
"""Frozen Jasper graph (.pb) -> ONNX model checked in onnxruntime: the command line of
open_seq2seq/export/pb2onnx.py (console script ``jasper-pb2onnx``), whose docstring and --help give the usage."""
import sys

from open_seq2seq.export.pb2onnx import cli

if __name__ == "__main__":
  sys.exit(cli())

"""Jasper speech recognition toolkit in the OpenSeq2Seq layout (TensorFlow 1.x programming model)."""
import os

# TensorFlow's C++ start-up notices (oneDNN, CPU features) would bury the tools' one-line errors. It reads this
# variable once, when it is first imported, and every module that imports it is imported after this package;
# a value set by the user wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

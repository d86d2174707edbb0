"""Jasper speech recognition toolkit in the OpenSeq2Seq layout (TensorFlow 1.x programming model)."""

"""Raw ``.bin`` arrays of the online inference pipeline: no header, little-endian, row-major, one utterance
per file; the shape comes from the pipeline (docs/export.md) and is checked against the file size on read.
"""
import os

import numpy as np

FEATURES_DTYPE = np.dtype("<f4")  # [frames, num_features]
LENGTH_DTYPE = np.dtype("<i4")  # [1]: the utterance's number of feature frames
LOGITS_DTYPE = np.dtype("<f4")  # [valid output frames, vocabulary size + 1]
# Dtypes a wrongly written file often has; named in the error when the size fits one of them.
OTHER_DTYPES = (np.dtype("<f2"), np.dtype("<f8"), np.dtype("<i8"))


def write_bin(path, array, dtype):
  """Writes ``array`` (any shape, converted to the numpy ``dtype``) to ``path`` as a raw row-major array."""
  np.ascontiguousarray(array, dtype=dtype).tofile(path)


def read_bin(path, dtype, shape):
  """Reads ``path`` as an array of the numpy ``dtype`` and ``shape``; one dimension may be -1 (any number of rows
  of the rest).

  Raises IOError when ``path`` is not a file, ValueError when its size does not fit ``dtype`` and ``shape``
  (naming another dtype whose size it fits, if any).
  """
  if not os.path.isfile(path):
    raise IOError("{}: file not found".format(path))
  size = os.path.getsize(path)
  fixed = [d for d in shape if d != -1]
  unit = int(np.prod(fixed)) * dtype.itemsize
  fits = (lambda s, u: u > 0 and s % u == 0) if -1 in shape else (lambda s, u: s == u)
  if not fits(size, unit):
    shape_text = "[{}]".format(", ".join("any" if d == -1 else str(d) for d in shape))
    expected = "a multiple of {} bytes".format(unit) if -1 in shape else "{} bytes".format(unit)
    hint = ""
    for other in OTHER_DTYPES:
      if fits(size, unit // dtype.itemsize * other.itemsize):
        hint = " (the size fits {} values: was it written with another dtype?)".format(other.name)
        break
    raise ValueError("{}: {} bytes, expected {} {} = {}{}".format(path, size, dtype.name, shape_text, expected,
                                                                 hint))
  return np.fromfile(path, dtype=dtype).reshape(shape)

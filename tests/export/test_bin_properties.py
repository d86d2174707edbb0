"""Property-based tests (hypothesis) of the .bin reader: any file content either reads back with the requested
shape or raises a ValueError naming the file; written arrays round-trip exactly."""
import os
import tempfile

import numpy as np
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from open_seq2seq.export.bin_files import FEATURES_DTYPE, LENGTH_DTYPE, read_bin, write_bin

SETTINGS = settings(max_examples=150, deadline=None)


@SETTINGS
@given(st.binary(max_size=600), st.sampled_from([FEATURES_DTYPE, LENGTH_DTYPE]),
       st.sampled_from([(-1, 4), (3, 4), (1,), (-1, 1), (2, -1)]))
def test_arbitrary_bytes_read_as_the_shape_or_name_the_file(data, dtype, shape):
  handle, path = tempfile.mkstemp(suffix=".bin")
  with os.fdopen(handle, "wb") as out:
    out.write(data)
  try:
    array = read_bin(path, dtype, shape)
  except ValueError as error:
    assert path in str(error)
  else:
    assert array.dtype == dtype and array.size * dtype.itemsize == len(data)
    assert all(actual == wanted for actual, wanted in zip(array.shape, shape) if wanted != -1)
  finally:
    os.remove(path)


@SETTINGS
@given(arrays(np.float32, st.tuples(st.integers(0, 6), st.just(4)), elements=st.floats(width=32, allow_nan=False)))
def test_features_round_trip(values):
  handle, path = tempfile.mkstemp(suffix=".bin")
  os.close(handle)
  try:
    write_bin(path, values, FEATURES_DTYPE)
    np.testing.assert_array_equal(read_bin(path, FEATURES_DTYPE, (-1, 4)), values)
  finally:
    os.remove(path)

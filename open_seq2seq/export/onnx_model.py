"""An ONNX Jasper model (generate_pb/pb2onnx.py) run in onnxruntime on batches of utterances, as FrozenJasper runs
the frozen graph it was converted from: the same inputs, padding and valid logits."""
import os

import numpy as np
import onnxruntime

from open_seq2seq.export.frozen_model import check_batch_size, padded_batch, valid_logits
from open_seq2seq.export.signature import FEATURES, FEATURES_LENGTH, LOGITS, LOGITS_LENGTH

ONNX_INPUTS = (FEATURES, FEATURES_LENGTH)
ONNX_OUTPUTS = (LOGITS, LOGITS_LENGTH)
# onnxruntime's names of its tensor element types -> numpy dtypes of the features input.
_INPUT_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64}


def _static(dimension):
  """An ONNX dimension as a static size, or None when it is symbolic or unknown."""
  return dimension if isinstance(dimension, int) and dimension > 0 else None


class OnnxJasper:
  """Runs an exported ONNX model on CPU. ``batch_size`` / ``num_frames`` are its static sizes, None where free;
  ``num_features`` is F, ``input_dtype`` the numpy dtype of ``features``.

  Raises IOError when ``path`` is not a file, ValueError when onnxruntime cannot load it or it lacks the inputs
  and outputs pb2onnx.py writes (features [B, T, F] with a known F, features_length; the logits and
  logits_length).
  """

  def __init__(self, path):
    if not os.path.isfile(path):
      raise IOError("Model file not found: {}".format(path))
    self.path = path
    try:
      self.session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    except Exception as error:
      # onnxruntime raises classes of its own (Fail, InvalidGraph, InvalidProtobuf, ...) for a file it cannot load.
      raise ValueError("{}: onnxruntime cannot load it ({}); expected an ONNX model written by "
                       "generate_pb/pb2onnx.py".format(path, str(error).splitlines()[0] if str(error) else error)) \
          from error
    inputs = {node.name: node for node in self.session.get_inputs()}
    outputs = {node.name for node in self.session.get_outputs()}
    missing = [name for name in ONNX_INPUTS if name not in inputs] + [name for name in ONNX_OUTPUTS
                                                                      if name not in outputs]
    if missing:
      raise ValueError("{}: no {} {}; an ONNX Jasper model (generate_pb/pb2onnx.py) has inputs {} and outputs {}; "
                       "this one has inputs {} and outputs {}".format(
                           path, "tensor" if len(missing) == 1 else "tensors", ", ".join(missing),
                           ", ".join(ONNX_INPUTS), ", ".join(ONNX_OUTPUTS), sorted(inputs), sorted(outputs)))
    features = inputs[FEATURES]
    if len(features.shape) != 3 or _static(features.shape[2]) is None or features.type not in _INPUT_DTYPES:
      raise ValueError("{}: input {} is {} {}, expected a float tensor [batch, time, features] with a known number "
                       "of features".format(path, FEATURES, features.type, features.shape))
    self.batch_size, self.num_frames, self.num_features = (_static(size) for size in features.shape)
    self.input_dtype = _INPUT_DTYPES[features.type]

  def check_batch_size(self, batch_size):
    """Raises ValueError when ``batch_size`` utterances do not fit the model's static batch size."""
    check_batch_size(self, batch_size)

  def padded_batch(self, features, rows=None):
    """``(features [rows, frames, F], lengths [rows] int32)``: frozen_model.py's ``padded_batch`` with this
    model's static sizes."""
    return padded_batch(self, features, rows)

  def run(self, features, rows=None):
    """Float32 logits ``[valid output frames_i, V+1]`` of each ``[frames_i, F]`` utterance of ``features``, run as
    one batch of ``padded_batch(features, rows)``. Raises ValueError as padded_batch does."""
    batch, lengths = self.padded_batch(features, rows)
    logits, logits_length = self.session.run(list(ONNX_OUTPUTS), {FEATURES: batch, FEATURES_LENGTH: lengths})
    return valid_logits(logits, logits_length, len(features))

  def close(self):
    """Releases the onnxruntime session."""
    self.session = None

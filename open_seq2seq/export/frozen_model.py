"""A frozen Jasper graph (generate_pb/ckpt2pb.py) loaded into a session and run on batches of utterances."""
import os

import numpy as np
import tensorflow.compat.v1 as tf
from google.protobuf.message import DecodeError

from open_seq2seq.distributed.session_config import inference_session_config
from open_seq2seq.export.signature import FEATURES, FEATURES_LENGTH, LOGITS, LOGITS_LENGTH

REQUIRED_TENSORS = (FEATURES, FEATURES_LENGTH, LOGITS, LOGITS_LENGTH)


def read_frozen_graph(path):
  """The GraphDef of ``path``, checked to hold the inputs and outputs of signature.py that inference uses.

  Raises IOError when ``path`` is not a file, ValueError when it is not a binary GraphDef or lacks one of
  those tensors (the message lists the graph's placeholders).
  """
  if not os.path.isfile(path):
    raise IOError("Model file not found: {}".format(path))
  graph_def = tf.GraphDef()
  with open(path, "rb") as handle:
    try:
      graph_def.ParseFromString(handle.read())
    except DecodeError as error:
      raise ValueError("{}: not a binary GraphDef ({}); expected a .pb written by generate_pb/ckpt2pb.py".format(
          path, error)) from error
  nodes = {node.name: node for node in graph_def.node}
  missing = [name for name in REQUIRED_TENSORS if name not in nodes]
  if missing:
    placeholders = sorted(name for name, node in nodes.items() if node.op == "Placeholder")
    raise ValueError("{}: no tensor(s) {}; an exported Jasper graph has inputs {}, {} and outputs {}, {} "
                     "(generate_pb/ckpt2pb.py); this graph's placeholders are {}".format(
                         path, ", ".join(missing), FEATURES, FEATURES_LENGTH, LOGITS, LOGITS_LENGTH, placeholders))
  return graph_def


def valid_logits(logits, logits_length, count):
  """The first ``count`` rows of ``logits`` [B, T', V+1], each cut to its ``logits_length`` [B] valid frames:
  a list of float32 ``[logits_length[row], V+1]`` arrays."""
  return [logits[row, :logits_length[row]].astype(np.float32) for row in range(count)]


def check_batch_size(model, batch_size):
  """Raises ValueError when ``batch_size`` utterances do not fit the static batch size of ``model`` (a
  FrozenJasper or export/onnx_model.py's OnnxJasper: its ``batch_size``, None when free, and ``path``)."""
  if model.batch_size is not None and batch_size > model.batch_size:
    raise ValueError("Batch size {} exceeds the static batch size {} of {} (export it with a larger "
                     "--batch_size, or without one for any size)".format(batch_size, model.batch_size, model.path))


def padded_batch(model, features, rows=None):
  """``(features [rows, frames, F], lengths [rows] int32)`` of a list of ``[frames_i, F]`` arrays for ``model``
  (a FrozenJasper or export/onnx_model.py's OnnxJasper: its ``path``, ``batch_size``, ``num_frames``,
  ``num_features`` and ``input_dtype``).

  ``rows`` defaults to one per utterance and is always the static batch size of a static graph; frames
  is the static number of frames or the longest utterance. Rows past the utterances and frames past
  each utterance are zeros. Raises ValueError when the utterances exceed a static batch size or number of
  frames, or an utterance is not ``[frames, F]``.
  """
  check_batch_size(model, max(len(features), rows or 0))
  rows = model.batch_size or rows or len(features)
  longest = max(len(f) for f in features)
  frames = model.num_frames or longest
  if longest > frames:
    raise ValueError("An utterance of {} frames exceeds the static {} frames of {} (export it with a larger "
                     "--num_frames, or without one for any length)".format(longest, frames, model.path))
  batch = np.zeros([rows, frames, model.num_features], model.input_dtype)
  lengths = np.zeros([rows], np.int32)
  for row, utterance in enumerate(features):
    if utterance.ndim != 2 or utterance.shape[1] != model.num_features:
      raise ValueError("Features of shape {} for {}, which expects [frames, {}]".format(
          list(utterance.shape), model.path, model.num_features))
    batch[row, :len(utterance)] = utterance
    lengths[row] = len(utterance)
  return batch, lengths


class FrozenJasper:
  """Runs an exported graph in its own session. ``batch_size`` / ``num_frames`` are its static sizes, None where
  free; ``num_features`` is F, ``input_dtype`` the numpy dtype of ``features`` (float32 for float32 and bfloat16
  exports, float16 for float16 ones: signature.py).

  Raises IOError / ValueError as read_frozen_graph does, and ValueError when ``features`` is not
  [B, T, F] with a known F. ``session_config``: a tf.ConfigProto, or None for distributed/session_config.py's
  inference_session_config() (the settings that let an exported graph's ops fuse). ``graph_def``: the frozen
  GraphDef itself (ckpt2pb.py's ``frozen_checkpoint_graph`` in memory), which ``path`` then only names in
  messages.
  """

  def __init__(self, path, session_config=None, graph_def=None):
    self.path = path
    self.graph = tf.Graph()
    with self.graph.as_default():
      tf.import_graph_def(read_frozen_graph(path) if graph_def is None else graph_def, name="")
    tensor = self.graph.get_tensor_by_name
    self._features, self._lengths = tensor(FEATURES + ":0"), tensor(FEATURES_LENGTH + ":0")
    self._logits, self._logits_length = tensor(LOGITS + ":0"), tensor(LOGITS_LENGTH + ":0")
    shape = self._features.shape
    if shape.rank != 3 or shape[2] is None:
      raise ValueError("{}: input {} has shape {}, expected [batch, time, features] with a known number of "
                       "features".format(path, FEATURES, shape))
    self.batch_size, self.num_frames, self.num_features = shape.as_list()
    self.input_dtype = self._features.dtype.as_numpy_dtype
    if session_config is None:
      session_config = inference_session_config()
    self.session = tf.Session(graph=self.graph, config=session_config)

  def check_batch_size(self, batch_size):
    """Raises ValueError when ``batch_size`` utterances do not fit the graph's static batch size."""
    check_batch_size(self, batch_size)

  def padded_batch(self, features, rows=None):
    """``(features [rows, frames, F], lengths [rows] int32)`` of a list of ``[frames_i, F]`` arrays: see
    ``padded_batch`` of this module, with this graph's static sizes."""
    return padded_batch(self, features, rows)

  def run(self, features, rows=None):
    """Float32 logits ``[valid output frames_i, V+1]`` of each utterance of ``features`` (list of
    ``[frames_i, F]`` arrays), run as one batch of ``padded_batch(features, rows)``; padding is never returned.
    Raises ValueError as padded_batch does.
    """
    batch, lengths = self.padded_batch(features, rows)
    logits, logits_length = self.session.run([self._logits, self._logits_length],
                                             {self._features: batch, self._lengths: lengths})
    return valid_logits(logits, logits_length, len(features))

  def close(self):
    """Closes the session."""
    self.session.close()

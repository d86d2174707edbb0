"""Base class of encoders."""
import copy

import tensorflow.compat.v1 as tf

from open_seq2seq.utils.params import check_params


class Encoder:
  """An encoder turns ``{"source_tensors": [x, x_len]}`` into ``{"outputs", "src_length"}``."""

  @staticmethod
  def get_required_params():
    return {}

  @staticmethod
  def get_optional_params():
    return {
        "regularizer": None,
        "regularizer_params": dict,
        "initializer": None,
        "initializer_params": dict,
        "dtype": [tf.float32, tf.float16, "mixed"],
    }

  def __init__(self, params, model, name="encoder", mode="train"):
    check_params(params, self.get_required_params(), self.get_optional_params(), type(self).__name__)
    self._params = copy.deepcopy(params)
    self._model = model
    self._name = name
    self._mode = mode
    if "dtype" not in self._params:
      self._params["dtype"] = model.get_tf_dtype() if model is not None else tf.float32
    elif self._params["dtype"] == "mixed":
      self._params["dtype"] = tf.float16

  @property
  def params(self):
    return self._params

  @property
  def mode(self):
    return self._mode

  def encode(self, input_dict):
    initializer = None
    if self._params.get("initializer") is not None:
      initializer = self._params["initializer"](**self._params.get("initializer_params", {}))
    with tf.variable_scope(self._name, initializer=initializer, dtype=self._params["dtype"]):
      source = input_dict["source_tensors"]
      cast = [tf.cast(t, self._params["dtype"]) if t.dtype.is_floating else t for t in source]
      return self._encode({"source_tensors": cast})

  def _encode(self, input_dict):
    raise NotImplementedError

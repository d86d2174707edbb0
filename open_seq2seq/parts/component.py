"""Common base of encoders and decoders: validated params, dtype and the variable scope they build in."""
import copy

import tensorflow.compat.v1 as tf

from open_seq2seq.utils.params import check_params
from open_seq2seq.utils.precision import DTYPES, compute_dtype


class Component:
  """Validates ``params`` against the class declarations and resolves ``dtype`` to the type its layers compute
  in ("mixed" -> float16, "bfloat16" -> bfloat16; precision.compute_dtype).

  ``CONFIG_KEY``: the model parameter holding the component's params, so errors name a key's full path.
  """
  CONFIG_KEY = None

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
        "dtype": DTYPES,
    }

  def __init__(self, params, model, name, mode):
    check_params(params, self.get_required_params(), self.get_optional_params(), type(self).__name__,
                 prefix=self.CONFIG_KEY + "/" if self.CONFIG_KEY else "")
    self._params = copy.deepcopy(params)
    self._model = model
    self._name = name
    self._mode = mode
    if "dtype" not in self._params:
      self._params["dtype"] = model.get_tf_dtype() if model is not None else tf.float32
    else:
      self._params["dtype"] = compute_dtype(self._params["dtype"])

  @property
  def params(self):
    return self._params

  @property
  def mode(self):
    return self._mode

  def variable_scope(self):
    """The component's scope, with its initializer and dtype as defaults for its variables."""
    initializer = None
    if self._params.get("initializer") is not None:
      initializer = self._params["initializer"](**self._params.get("initializer_params", {}))
    return tf.variable_scope(self._name, initializer=initializer, dtype=self._params["dtype"])

  def regularizer(self):
    if self._params.get("regularizer") is None:
      return None
    return self._params["regularizer"](**self._params.get("regularizer_params", {}))

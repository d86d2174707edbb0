"""Common base of encoders and decoders: validated params, dtype and the variable scope they build in."""
import copy

import tensorflow.compat.v1 as tf

from open_seq2seq.utils.params import Configured, Param, check_params, keyword_arguments, with_defaults
from open_seq2seq.utils.precision import DTYPES, compute_dtype


class Component(Configured):
  """Validates ``params`` against the class declarations and resolves ``dtype`` to the type its layers compute
  in ("mixed" -> float16, "bfloat16" -> bfloat16; precision.compute_dtype).

  ``CONFIG_KEY``: the model parameter holding the component's params, so errors name a key's full path.
  """
  CONFIG_KEY = None

  @staticmethod
  def get_required_params():
    """None in this base class."""
    return {}

  @staticmethod
  def get_optional_params():
    """``regularizer``, ``initializer`` (with their params) and ``dtype``."""
    return {
        "regularizer": Param(None, None, "regularizer class of the kernels, called with regularizer_params; when "
                                         "the key is absent, the model's"),
        "regularizer_params": keyword_arguments("regularizer"),
        "initializer": Param(None, None, "initializer class of the variables, called with initializer_params; "
                                         "None: the model's"),
        "initializer_params": keyword_arguments("initializer"),
        "dtype": Param(DTYPES, None, "precision the layers compute in (mixed: float16, bfloat16); None: the model's"),
    }

  def __init__(self, params, model, name, mode):
    check_params(params, self.get_required_params(), self.get_optional_params(), type(self).__name__,
                 prefix=self.CONFIG_KEY + "/" if self.CONFIG_KEY else "")
    self._params = with_defaults(copy.deepcopy(params), self.get_optional_params())
    self._model = model
    self._name = name
    self._mode = mode
    if self._params["dtype"] is None:
      self._params["dtype"] = model.get_tf_dtype() if model is not None else tf.float32
    else:
      self._params["dtype"] = compute_dtype(self._params["dtype"])

  def variable_scope(self):
    """The component's scope, with its initializer and dtype as defaults for its variables."""
    initializer = None
    if self._params["initializer"] is not None:
      initializer = self._params["initializer"](**self._params["initializer_params"])
    return tf.variable_scope(self._name, initializer=initializer, dtype=self._params["dtype"])

  def regularizer(self):
    """The regularizer built from ``regularizer`` and ``regularizer_params``, or None."""
    if self._params["regularizer"] is None:
      return None
    return self._params["regularizer"](**self._params["regularizer_params"])

"""Base class of encoders."""
import tensorflow.compat.v1 as tf

from open_seq2seq.parts.component import Component


class Encoder(Component):
  """An encoder turns ``{"source_tensors": [x, x_len]}`` into ``{"outputs", "src_length"}``."""
  CONFIG_KEY = "encoder_params"

  def __init__(self, params, model, name="encoder", mode="train"):
    super().__init__(params, model, name, mode)

  def encode(self, input_dict):
    """Casts the floating ``source_tensors`` to the encoder's dtype and returns ``_encode`` of them, built in the
    encoder's variable scope."""
    with self.variable_scope():
      source = input_dict["source_tensors"]
      cast = [tf.cast(t, self._params["dtype"]) if t.dtype.is_floating else t for t in source]
      return self._encode({"source_tensors": cast})

  def _encode(self, input_dict):
    raise NotImplementedError

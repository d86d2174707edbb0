"""Base class of decoders."""
import tensorflow.compat.v1 as tf

from open_seq2seq.parts.component import Component


class Decoder(Component):
  """A decoder turns ``{"encoder_output", "target_tensors"}`` into ``{"logits", "outputs", ...}``."""
  CONFIG_KEY = "decoder_params"

  def __init__(self, params, model, name="decoder", mode="train"):
    super().__init__(params, model, name, mode)

  def decode(self, input_dict):
    """Casts the floating ``encoder_output['outputs']`` to the decoder's dtype and returns ``_decode`` of the
    input dict, built in the decoder's variable scope."""
    with self.variable_scope():
      encoder_output = dict(input_dict["encoder_output"])
      outputs = encoder_output["outputs"]
      if outputs.dtype.is_floating:
        encoder_output["outputs"] = tf.cast(outputs, self._params["dtype"])
      return self._decode(dict(input_dict, encoder_output=encoder_output))

  def _decode(self, input_dict):
    raise NotImplementedError

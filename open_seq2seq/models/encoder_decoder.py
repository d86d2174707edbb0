"""Encoder -> decoder -> loss models."""
import copy

import tensorflow.compat.v1 as tf

from open_seq2seq.utils.params import Param
from .model import Model


class EncoderDecoderModel(Model):
  """Builds ``ForwardPass/{encoder, decoder}`` and, outside infer mode, ``ForwardPass/Loss``."""

  @staticmethod
  def get_required_params():
    """Adds ``encoder`` and ``decoder``."""
    return dict(Model.get_required_params(), **{
        "encoder": Param(None, doc="the encoder class, e.g. TDNNEncoder"),
        "decoder": Param(None, doc="the decoder class, e.g. FullyConnectedCTCDecoder"),
    })

  @staticmethod
  def get_optional_params():
    """Adds the encoder, decoder and loss parameters and the loss class."""
    return dict(Model.get_optional_params(), **{
        "encoder_params": Param(dict, {}, "the encoder's parameters (describe its class)"),
        "decoder_params": Param(dict, {}, "the decoder's parameters (describe its class)"),
        "loss": Param(None, None, "the loss class, e.g. CTCLoss; train and eval need one"),
        "loss_params": Param(dict, {}, "the loss's parameters (describe its class)"),
    })

  def __init__(self, params, mode="train", hvd=None):
    super().__init__(params, mode, hvd)
    if mode != "infer" and self._params["loss"] is None:
      raise ValueError("{} needs a 'loss' in {} mode".format(type(self).__name__, mode))
    self._encoder = self._create_encoder()
    self._decoder = self._create_decoder()
    self._loss_computator = self._create_loss() if mode != "infer" else None

  def _component_params(self, key):
    params = copy.deepcopy(self._params[key])
    for name in ("regularizer", "regularizer_params"):
      if name not in params:
        params[name] = self._params[name]
    return params

  def _create_encoder(self):
    return self._params["encoder"](params=self._component_params("encoder_params"), model=self, mode=self._mode)

  def _create_decoder(self):
    return self._params["decoder"](params=self._component_params("decoder_params"), model=self, mode=self._mode)

  def _create_loss(self):
    return self._params["loss"](params=copy.deepcopy(self._params["loss_params"]), model=self)

  @property
  def encoder(self):
    """The encoder instance."""
    return self._encoder

  @property
  def decoder(self):
    """The decoder instance."""
    return self._decoder

  def _build_forward_pass_graph(self, input_tensors):
    with tf.variable_scope("ForwardPass"):
      encoder_input = {"source_tensors": input_tensors["source_tensors"]}
      encoder_output = self._encoder.encode(encoder_input)
      decoder_input = {"encoder_output": encoder_output}
      if "target_tensors" in input_tensors:
        decoder_input["target_tensors"] = input_tensors["target_tensors"]
      decoder_output = self._decoder.decode(decoder_input)
      self.decoder_output = decoder_output
      loss = None
      if self._mode != "infer":
        with tf.variable_scope("Loss"):
          loss = self._loss_computator.compute_loss({
              "decoder_output": decoder_output, "target_tensors": input_tensors["target_tensors"]})
      return loss, decoder_output["outputs"]

"""Jasper / Wave2Letter+ time-delay (1-D convolutional) encoder, OpenSeq2Seq's ``TDNNEncoder``."""
import tensorflow.compat.v1 as tf

from open_seq2seq.parts.conv_block import conv_bn_activation
from open_seq2seq.utils.params import Inert, ListOf, Range, check_params
from .encoder import Encoder

KEEP_PROB = Range(float, low=0, high=1, low_inclusive=False)
# Each entry of convnet_layers: one block of ``repeat`` conv sub-blocks (sizes in frames, one per dimension).
LAYER_REQUIRED = {
    "type": ["conv1d"],
    "repeat": Range(int, low=1),
    "kernel_size": ListOf(Range(int, low=1), length=1),
    "stride": ListOf(Range(int, low=1), length=1),
    "num_channels": Range(int, low=1),
    "padding": ["SAME", "VALID"],
    "dilation": ListOf(Range(int, low=1), length=1),
}
LAYER_OPTIONAL = {"dropout_keep_prob": KEEP_PROB, "residual": bool, "residual_dense": bool}


class TDNNEncoder(Encoder):
  """Blocks of ``repeat`` conv sub-blocks: conv -> batch norm -> (residual add) -> activation -> dropout.

  Inputs ``[B, T, F]`` features and ``[B]`` lengths; outputs ``[B, T', C_last]`` and the updated
  lengths. With ``use_conv_mask`` every conv input is multiplied by the time mask of the valid frames.
  """

  @staticmethod
  def get_required_params():
    return dict(Encoder.get_required_params(), **{
        "dropout_keep_prob": KEEP_PROB,
        "convnet_layers": ListOf(dict),
        "activation_fn": None,
    })

  @staticmethod
  def get_optional_params():
    return dict(Encoder.get_optional_params(), **{
        "data_format": Inert(["channels_last"], "channels_last [B, T, C] is the only layout implemented"),
        "normalization": Inert(["batch_norm"], "batch normalisation is the only normalisation implemented"),
        "bn_momentum": Range(float, low=0, high=1),
        "bn_epsilon": Range(float, low=0, low_inclusive=False),
        "use_conv_mask": bool,
        "drop_block_prob": Range(float, low=0, high=0),  # DropBlock is not implemented: 0 only
    })

  def __init__(self, params, model, name="w2l_encoder", mode="train"):
    super().__init__(params, model, name, mode)
    for index, layer in enumerate(self._params["convnet_layers"]):
      path = "{}/convnet_layers[{}]/".format(self.CONFIG_KEY, index)
      check_params(layer, LAYER_REQUIRED, LAYER_OPTIONAL, "TDNNEncoder", prefix=path)
      if layer.get("residual") and layer["stride"][0] > 1:
        raise ValueError("TDNNEncoder: {}: residual blocks with stride > 1 are not supported".format(path[:-1]))

  def _encode(self, input_dict):
    x, src_length = input_dict["source_tensors"]
    params = self._params
    training = self._mode == "train"
    regularizer = self.regularizer()
    use_mask = params.get("use_conv_mask", False)
    bn_momentum = params.get("bn_momentum", 0.90)
    bn_epsilon = params.get("bn_epsilon", 1e-3)

    src_length = tf.cast(src_length, tf.int32)
    # The time size of the batch: the longest utterance padded to the data layer's pad_to multiple, or
    # the fixed length of static-shape batches; masks always come from the true lengths.
    max_len = tf.shape(x)[1]
    mask = None
    if use_mask:
      mask = tf.expand_dims(tf.sequence_mask(src_length, max_len, dtype=x.dtype), -1)

    dense_sources = []
    for block_index, layer in enumerate(params["convnet_layers"], start=1):
      repeat = layer["repeat"]
      kernel, stride, dilation = layer["kernel_size"][0], layer["stride"][0], layer["dilation"][0]
      padding = layer["padding"]
      keep_prob = layer.get("dropout_keep_prob", params["dropout_keep_prob"]) if training else 1.0
      residual = layer.get("residual", False)
      if use_mask:
        x = x * mask
      residual_inputs = None
      if residual:
        if layer.get("residual_dense", False):
          dense_sources.append(x)
          residual_inputs = list(dense_sources)
        else:
          residual_inputs = x
      for sub_index in range(1, repeat + 1):
        if padding == "SAME":
          src_length = (src_length + stride - 1) // stride
          max_len = (max_len + stride - 1) // stride
        else:
          src_length = (src_length - kernel) // stride + 1
          max_len = (max_len - kernel) // stride + 1
        if sub_index > 1 and use_mask:
          x = x * mask
        if use_mask and (padding == "VALID" or stride > 1):
          mask = tf.expand_dims(tf.sequence_mask(src_length, max_len, dtype=x.dtype), -1)
        x = conv_bn_activation(
            x, name="conv{}{}".format(block_index, sub_index), num_channels=layer["num_channels"],
            kernel_size=kernel, stride=stride, dilation=dilation, padding=padding,
            activation_fn=params["activation_fn"], training=training, bn_momentum=bn_momentum,
            bn_epsilon=bn_epsilon, regularizer=regularizer,
            residual_inputs=residual_inputs if sub_index == repeat else None)
        if keep_prob < 1.0:
          x = tf.nn.dropout(x, rate=1.0 - keep_prob)
    return {"outputs": x, "src_length": src_length}

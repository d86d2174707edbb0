"""Jasper / Wave2Letter+ time-delay (1-D convolutional) encoder, OpenSeq2Seq's ``TDNNEncoder``."""
import tensorflow.compat.v1 as tf

from open_seq2seq.parts import masked_relu
from open_seq2seq.parts.conv_block import conv_bn_activation
from open_seq2seq.utils.params import Inert, ListOf, Param, Range, check_params, with_defaults
from .encoder import Encoder

KEEP_PROB = Range(float, low=0, high=1, low_inclusive=False)
_FRAMES = ListOf(Range(int, low=1), length=1)
# Each entry of convnet_layers: one block of ``repeat`` conv sub-blocks (sizes in frames, one per dimension).
LAYER_REQUIRED = {
    "type": Param(["conv1d"], doc="kind of layer: 1-D convolution over time"),
    "repeat": Param(Range(int, low=1), doc="conv sub-blocks (conv, batch norm, activation, dropout) in the block"),
    "kernel_size": Param(_FRAMES, doc="frames: [K], the width of each convolution"),
    "stride": Param(_FRAMES, doc="frames: [S], the stride of each convolution (T' = ceil(T / S) with SAME)"),
    "num_channels": Param(Range(int, low=1), doc="output channels C of each convolution"),
    "padding": Param(["SAME", "VALID"], doc="convolution padding, as tf.nn.convolution's"),
    "dilation": Param(_FRAMES, doc="frames: [D], the dilation of each convolution"),
}
LAYER_OPTIONAL = {
    "dropout_keep_prob": Param(KEEP_PROB, None, "probability of keeping an activation in training; None: the "
                                                "encoder's dropout_keep_prob"),
    "residual": Param(bool, False, "add the block's input to its last sub-block after batch norm, before the "
                                   "activation"),
    "residual_dense": Param(bool, False, "with residual: add the inputs of every earlier residual block too "
                                         "(Jasper DR)"),
}


def time_stride(convnet_layers):
  """Input frames per output frame of an encoder with these ``convnet_layers`` (a config's
  ``encoder_params/convnet_layers``): the product of every convolution's stride, each of a block's ``repeat``
  sub-blocks striding once (Jasper: 2, its prologue's). With SAME padding output frame t starts at input frame
  t * stride."""
  stride = 1
  for layer in convnet_layers:
    stride *= layer["stride"][0] ** layer["repeat"]
  return stride


class TDNNEncoder(Encoder):
  """Blocks of ``repeat`` conv sub-blocks: conv -> batch norm -> (residual add) -> activation -> dropout.

  Inputs ``[B, T, F]`` features and ``[B]`` lengths; outputs ``[B, T', C_last]`` and the updated
  lengths. With ``use_conv_mask`` every conv input is multiplied by the time mask of the valid frames.
  """

  @staticmethod
  def get_required_params():
    """Adds ``dropout_keep_prob``, ``convnet_layers`` and ``activation_fn``."""
    return dict(Encoder.get_required_params(), **{
        "dropout_keep_prob": Param(KEEP_PROB, doc="probability of keeping an activation in training, in every "
                                                  "block that sets none"),
        "convnet_layers": Param(ListOf(dict), doc="the blocks in order, input first; each a dict of the keys "
                                                  "below (jasper_layers.py builds them)"),
        "activation_fn": Param(None, doc="activation of every sub-block, e.g. tf.nn.relu"),
    })

  @staticmethod
  def get_optional_params():
    """Adds the layout, batch-norm, conv-mask and DropBlock options."""
    return dict(Encoder.get_optional_params(), **{
        "data_format": Inert(["channels_last"], "channels_last [B, T, C] is the only layout implemented"),
        "normalization": Inert(["batch_norm"], "batch normalisation is the only normalisation implemented"),
        "bn_momentum": Param(Range(float, low=0, high=1), 0.90, "momentum of the batch-norm moving mean and "
                                                                "variance"),
        "bn_epsilon": Param(Range(float, low=0, low_inclusive=False), 1e-3, "added to the batch-norm variance"),
        "use_conv_mask": Param(bool, False, "zero the padded frames (past each utterance's length) before every "
                                            "convolution"),
        "fold_batch_norm": Param(bool, False, "inference graphs only (the exporters set it): fold each batch norm "
                                              "into its convolution's weights and a bias (conv_block.py)"),
        "drop_block_prob": Param(Range(float, low=0, high=0), 0.0, "DropBlock probability: DropBlock is not "
                                                                   "implemented, so 0 (off) only"),
    })

  def __init__(self, params, model, name="w2l_encoder", mode="train"):
    super().__init__(params, model, name, mode)
    layers = []
    for index, layer in enumerate(self._params["convnet_layers"]):
      path = "{}/convnet_layers[{}]/".format(self.CONFIG_KEY, index)
      check_params(layer, LAYER_REQUIRED, LAYER_OPTIONAL, "TDNNEncoder", prefix=path)
      layer = with_defaults(layer, LAYER_OPTIONAL)
      if layer["dropout_keep_prob"] is None:
        layer["dropout_keep_prob"] = self._params["dropout_keep_prob"]
      if layer["residual"] and layer["stride"][0] > 1:
        raise ValueError("TDNNEncoder: {}: residual blocks with stride > 1 are not supported".format(path[:-1]))
      layers.append(layer)
    self._params["convnet_layers"] = layers
    if self._params["fold_batch_norm"] and mode == "train":
      raise ValueError("TDNNEncoder: encoder_params/fold_batch_norm is for inference graphs; training needs the "
                       "batch statistics")

  def _encode(self, input_dict):
    x, src_length = input_dict["source_tensors"]
    params = self._params
    training = self._mode == "train"
    regularizer = self.regularizer()
    use_mask = params["use_conv_mask"]
    bn_momentum = params["bn_momentum"]
    bn_epsilon = params["bn_epsilon"]

    src_length = tf.cast(src_length, tf.int32)
    # The time size of the batch: the longest utterance padded to the data layer's pad_to multiple, or
    # the fixed length of static-shape batches; masks always come from the true lengths.
    max_len = tf.shape(x)[1]
    mask = None
    if use_mask:
      mask = tf.expand_dims(tf.sequence_mask(src_length, max_len, dtype=x.dtype), -1)

    # Training fuses each ReLU with the mask of the next layer's input (parts/masked_relu.py); the last layer's
    # output is not masked.
    fuse = training and use_mask and params["activation_fn"] is tf.nn.relu and masked_relu.available(x.dtype)
    last_layer = (len(params["convnet_layers"]), params["convnet_layers"][-1]["repeat"])
    masked = False
    dense_sources = []
    for block_index, layer in enumerate(params["convnet_layers"], start=1):
      repeat = layer["repeat"]
      kernel, stride, dilation = layer["kernel_size"][0], layer["stride"][0], layer["dilation"][0]
      padding = layer["padding"]
      keep_prob = layer["dropout_keep_prob"] if training else 1.0
      residual = layer["residual"]
      if use_mask:
        x = _apply_mask(x, mask, masked)
      residual_inputs = None
      if residual:
        if layer["residual_dense"]:
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
          x = _apply_mask(x, mask, masked)
        if use_mask and (padding == "VALID" or stride > 1):
          mask = tf.expand_dims(tf.sequence_mask(src_length, max_len, dtype=x.dtype), -1)
        output_mask = mask if fuse and (block_index, sub_index) != last_layer else None
        x = conv_bn_activation(
            x, name="conv{}{}".format(block_index, sub_index), num_channels=layer["num_channels"],
            kernel_size=kernel, stride=stride, dilation=dilation, padding=padding,
            activation_fn=params["activation_fn"], training=training, bn_momentum=bn_momentum,
            bn_epsilon=bn_epsilon, regularizer=regularizer,
            residual_inputs=residual_inputs if sub_index == repeat else None,
            fold_batch_norm=params["fold_batch_norm"], output_mask=output_mask)
        masked = output_mask is not None
        if keep_prob < 1.0:
          x = tf.nn.dropout(x, rate=1.0 - keep_prob)
    return {"outputs": x, "src_length": src_length}


def _apply_mask(x, mask, masked):
  """``x * mask``, or where a fused masked ReLU applied the mask already an Identity in the Mul's place: the graph
  then creates as many ops as op by op, so the op-level seeds of what follows (random initialisers, dropout), which
  TensorFlow draws from the op count, stay the same."""
  return tf.identity(x) if masked else x * mask

"""Convolution + batch norm + activation blocks of the Jasper (TDNN) encoder.

Built from tf.nn ops and tf.get_variable so the variable names are exactly OpenSeq2Seq's
(``conv{b}{r}/kernel``, ``conv{b}{r}/bn/gamma`` ...) without tf.layers.

Inference graphs may fold each batch norm into its convolution (``fold_batch_norm``): the same variables (so a
training checkpoint restores), with the convolution's weights scaled per output channel and a bias added, so
one fused oneDNN convolution (bias, residual sum and ReLU as post-ops) replaces conv, batch norm, add and ReLU.
"""
import tensorflow.compat.v1 as tf

from open_seq2seq.parts.masked_relu import masked_relu

# Tensors of a graph that depend on its weights only (folded convolution weights and biases): freezing the graph
# stores their values as constants in place of the arithmetic that makes them (export/freeze.py).
WEIGHT_CONSTANTS = "weight_constants"


def conv1d(inputs, num_channels, kernel_size, name, stride=1, dilation=1, padding="SAME",
           regularizer=None):
  """Bias-free 1-D convolution of ``[B, T, C_in]``; variable ``<name>/kernel`` of shape [k, C_in, C]."""
  in_channels = int(inputs.shape[-1])
  with tf.variable_scope(name):
    kernel = tf.get_variable("kernel", [kernel_size, in_channels, num_channels], dtype=inputs.dtype,
                             regularizer=regularizer, trainable=True)
    return tf.nn.convolution(inputs, kernel, strides=[stride], padding=padding, dilations=[dilation])


def _batch_norm_variables(channels, regularizer=None):
  """gamma, beta, moving mean and moving variance ``[channels]`` (float32) of the current variable scope."""
  return (tf.get_variable("gamma", [channels], tf.float32, tf.ones_initializer(), regularizer=regularizer),
          tf.get_variable("beta", [channels], tf.float32, tf.zeros_initializer()),
          tf.get_variable("moving_mean", [channels], tf.float32, tf.zeros_initializer(), trainable=False),
          tf.get_variable("moving_variance", [channels], tf.float32, tf.ones_initializer(), trainable=False))


def batch_norm(inputs, name, training, momentum=0.9, epsilon=1e-3, regularizer=None):
  """Batch norm over every [B, T] position of ``[B, T, C]`` with float32 parameters.

  As in the reference, the tensor is viewed as 4-D ``[B, 1, T, C]`` for the fused kernel. Training
  normalises with the biased batch variance while the moving variance receives the unbiased one
  (fused-kernel semantics); the moving-average updates go to UPDATE_OPS.
  """
  channels = int(inputs.shape[-1])
  with tf.variable_scope(name):
    gamma, beta, moving_mean, moving_variance = _batch_norm_variables(channels, regularizer)
    four_d = tf.expand_dims(inputs, axis=1)
    if training:
      outputs, batch_mean, batch_variance = tf.nn.fused_batch_norm(
          four_d, gamma, beta, epsilon=epsilon, is_training=True)
      decay = 1.0 - momentum
      tf.add_to_collection(tf.GraphKeys.UPDATE_OPS,
                           tf.assign_sub(moving_mean, (moving_mean - batch_mean) * decay))
      tf.add_to_collection(tf.GraphKeys.UPDATE_OPS,
                           tf.assign_sub(moving_variance, (moving_variance - batch_variance) * decay))
    else:
      outputs, _, _ = tf.nn.fused_batch_norm(four_d, gamma, beta, mean=moving_mean,
                                             variance=moving_variance, epsilon=epsilon, is_training=False)
    return tf.squeeze(outputs, axis=[1])


def folded_conv_bn(inputs, num_channels, kernel_size, conv_name, bn_name, stride=1, dilation=1, padding="SAME",
                   epsilon=1e-3):
  """Inference batch norm folded into its bias-free convolution, on ``[B, 1, T, C_in]`` -> ``[B, 1, T', C]``.

  BN(conv(x, W)) = conv(x, W * s) + (beta - moving_mean * s) with s = gamma / sqrt(moving_variance + epsilon)
  per output channel: the variables of conv1d (``<conv_name>/kernel``, created float32 here so the fold is
  computed before any rounding) and of batch_norm (``<bn_name>/...``), the folded kernel and bias cast to the
  inputs' dtype and recorded in WEIGHT_CONSTANTS. A 2-D convolution of height 1 with the dilation as an attribute
  and BiasAdd right after it, so TensorFlow's remapper fuses them (and a following Add and Relu) into one oneDNN
  convolution. ``conv_name`` and ``bn_name`` are variable scopes below the current one (e.g. ``conv11`` and
  ``conv11/bn``).
  """
  in_channels = int(inputs.shape[-1])
  with tf.variable_scope(conv_name):
    kernel = tf.get_variable("kernel", [kernel_size, in_channels, num_channels], dtype=tf.float32)
  with tf.variable_scope(bn_name):
    gamma, beta, moving_mean, moving_variance = _batch_norm_variables(num_channels)
    scale = gamma * tf.rsqrt(moving_variance + epsilon)
    # tf.cast to the same dtype adds no op, so the identities give both tensors their names in every dtype.
    folded_kernel = tf.identity(tf.cast(tf.expand_dims(kernel * scale, 0), inputs.dtype), name="folded_kernel")
    folded_bias = tf.identity(tf.cast(beta - moving_mean * scale, inputs.dtype), name="folded_bias")
  for tensor in (folded_kernel, folded_bias):
    tf.add_to_collection(WEIGHT_CONSTANTS, tensor)
  if padding == "SAME" and dilation > 1 and stride == 1:
    # The same zeros as SAME, given explicitly: ONNX runtimes refuse a dilated convolution with SAME auto-padding.
    total = (kernel_size - 1) * dilation
    padding = [[0, 0], [0, 0], [total // 2, total - total // 2], [0, 0]]
  with tf.variable_scope(conv_name):
    outputs = tf.nn.conv2d(inputs, folded_kernel, strides=[1, 1, stride, 1], padding=padding,
                           dilations=[1, 1, dilation, 1])
    return tf.nn.bias_add(outputs, folded_bias)


def conv_bn_activation(inputs, name, num_channels, kernel_size, stride, dilation, padding, activation_fn,
                       training, bn_momentum, bn_epsilon, regularizer=None, residual_inputs=None,
                       fold_batch_norm=False, output_mask=None):
  """``act(BN(conv(x)) + sum_i BN_i(conv1x1_i(res_i)))``; the residual sum only when inputs are given.

  ``output_mask`` (``[B, T, 1]``, needs ``masked_relu.available``): the activation is ReLU times this time mask,
  one fused kernel (parts/masked_relu.py) instead of ``activation_fn``.

  ``residual_inputs`` is a list (dense residual: names ``res_{i}``/``res_bn_{i}``) or a single tensor
  (names ``res``/``res_bn``). The residual branches are created first, as in the reference, so the
  variable creation order matches OpenSeq2Seq checkpoints. ``fold_batch_norm`` (inference only, ValueError in
  training): each batch norm folded into its convolution (folded_conv_bn), the block computed on ``[B, 1, T, C]``.
  """
  if fold_batch_norm:
    if training:
      raise ValueError("{}: batch norm can only be folded into the convolutions of an inference graph".format(name))
    return _folded_conv_bn_activation(inputs, name, num_channels, kernel_size, stride, dilation, padding,
                                      activation_fn, bn_epsilon, residual_inputs)
  residual_sum = None
  if residual_inputs is not None:
    dense = isinstance(residual_inputs, (list, tuple))
    sources = list(residual_inputs) if dense else [residual_inputs]
    with tf.variable_scope(name):
      for index, source in enumerate(sources):
        suffix = "_{}".format(index) if dense else ""
        branch = conv1d(source, num_channels, 1, "res" + suffix)
        branch = batch_norm(branch, "res_bn" + suffix, training, bn_momentum, bn_epsilon, regularizer)
        residual_sum = branch if residual_sum is None else residual_sum + branch
  conv = conv1d(inputs, num_channels, kernel_size, name, stride, dilation, padding, regularizer)
  with tf.variable_scope(name):
    outputs = batch_norm(conv, "bn", training, bn_momentum, bn_epsilon, regularizer)
  outputs = tf.cast(outputs, inputs.dtype)
  if residual_sum is not None:
    outputs = outputs + tf.cast(residual_sum, inputs.dtype)
  if output_mask is not None:
    return masked_relu(outputs, output_mask)
  return activation_fn(outputs)


def _folded_conv_bn_activation(inputs, name, num_channels, kernel_size, stride, dilation, padding, activation_fn,
                               epsilon, residual_inputs):
  """conv_bn_activation with every batch norm folded (folded_conv_bn): ``[B, T, C_in]`` -> ``[B, T', C]``."""
  residual_sum = None
  if residual_inputs is not None:
    dense = isinstance(residual_inputs, (list, tuple))
    sources = list(residual_inputs) if dense else [residual_inputs]
    for index, source in enumerate(sources):
      suffix = "_{}".format(index) if dense else ""
      branch = folded_conv_bn(tf.expand_dims(tf.cast(source, inputs.dtype), 1), num_channels, 1,
                              name + "/res" + suffix, name + "/res_bn" + suffix, epsilon=epsilon)
      # AddN rather than Add: TensorFlow's remapper fuses Conv2D + BiasAdd + AddN (+ Relu) into one oneDNN
      # convolution with a sum post-op, but leaves an AddV2 of the same operands as a separate op.
      residual_sum = branch if residual_sum is None else tf.add_n([branch, residual_sum])
  outputs = folded_conv_bn(tf.expand_dims(inputs, 1), num_channels, kernel_size, name, name + "/bn", stride,
                           dilation, padding, epsilon)
  if residual_sum is not None:
    outputs = tf.add_n([outputs, residual_sum])
  return tf.squeeze(activation_fn(outputs), axis=[1])

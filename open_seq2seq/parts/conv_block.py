"""Convolution + batch norm + activation blocks of the Jasper (TDNN) encoder.

Built from tf.nn ops and tf.get_variable so the variable names are exactly OpenSeq2Seq's
(``conv{b}{r}/kernel``, ``conv{b}{r}/bn/gamma`` ...) without tf.layers.
"""
import tensorflow.compat.v1 as tf


def conv1d(inputs, num_channels, kernel_size, name, stride=1, dilation=1, padding="SAME",
           regularizer=None):
  """Bias-free 1-D convolution of ``[B, T, C_in]``; variable ``<name>/kernel`` of shape [k, C_in, C]."""
  in_channels = int(inputs.shape[-1])
  with tf.variable_scope(name):
    kernel = tf.get_variable("kernel", [kernel_size, in_channels, num_channels], dtype=inputs.dtype,
                             regularizer=regularizer, trainable=True)
    return tf.nn.convolution(inputs, kernel, strides=[stride], padding=padding, dilations=[dilation])


def batch_norm(inputs, name, training, momentum=0.9, epsilon=1e-3, regularizer=None):
  """Batch norm over every [B, T] position of ``[B, T, C]`` with float32 parameters.

  As in the reference, the tensor is viewed as 4-D ``[B, 1, T, C]`` for the fused kernel. Training
  normalises with the biased batch variance while the moving variance receives the unbiased one
  (fused-kernel semantics); the moving-average updates go to UPDATE_OPS.
  """
  channels = int(inputs.shape[-1])
  with tf.variable_scope(name):
    gamma = tf.get_variable("gamma", [channels], tf.float32, tf.ones_initializer(), regularizer=regularizer)
    beta = tf.get_variable("beta", [channels], tf.float32, tf.zeros_initializer())
    moving_mean = tf.get_variable("moving_mean", [channels], tf.float32, tf.zeros_initializer(),
                                  trainable=False)
    moving_variance = tf.get_variable("moving_variance", [channels], tf.float32, tf.ones_initializer(),
                                      trainable=False)
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


def conv_bn_activation(inputs, name, num_channels, kernel_size, stride, dilation, padding, activation_fn,
                       training, bn_momentum, bn_epsilon, regularizer=None, residual_inputs=None):
  """``act(BN(conv(x)) + sum_i BN_i(conv1x1_i(res_i)))``; the residual sum only when inputs are given.

  ``residual_inputs`` is a list (dense residual: names ``res_{i}``/``res_bn_{i}``) or a single tensor
  (names ``res``/``res_bn``). The residual branches are created first, as in the reference, so the
  variable creation order matches OpenSeq2Seq checkpoints.
  """
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
  return activation_fn(outputs)

"""Weight initializers with TF1 contrib's exact constants (tf.contrib is gone in TF 2.x)."""
import math

import numpy as np
import tensorflow.compat.v1 as tf


def _fans(shape):
  """fan_in/fan_out as TF1 computes them: receptive field size times input/output channels."""
  if len(shape) == 1:
    return shape[0], shape[0]
  receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
  return shape[-2] * receptive, shape[-1] * receptive


def xavier_initializer(uniform=True, seed=None):
  """Glorot initializer as ``tf.contrib.layers.xavier_initializer``.

  uniform=True: U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out)).
  uniform=False: truncated normal (cut at 2 sigma) with sigma = sqrt(1.3 / fan_avg); 1.3 compensates the
  truncation (TF2's VarianceScaling uses 1/0.8796 instead, which is close but not identical).
  Values are drawn in float32 and cast, so a float16 variable gets the same distribution.
  """

  def _initializer(shape, dtype=tf.float32, partition_info=None):
    del partition_info
    shape = [int(d) for d in shape]
    fan_in, fan_out = _fans(shape)
    fan_avg = (fan_in + fan_out) / 2.0
    if uniform:
      limit = math.sqrt(3.0 / fan_avg)
      values = tf.random_uniform(shape, -limit, limit, dtype=tf.float32, seed=seed)
    else:
      values = tf.truncated_normal(shape, 0.0, math.sqrt(1.3 / fan_avg), dtype=tf.float32, seed=seed)
    return tf.cast(values, dtype)

  return _initializer

"""xavier_initializer (spec 4.5 / 4.7): Glorot uniform limits and TF1-contrib truncated normal."""
import math

import numpy as np
import pytest
import tensorflow as tf

from open_seq2seq.parts.initializers import xavier_initializer

tf.compat.v1.disable_eager_execution()
tf1 = tf.compat.v1


def _sample(shape, uniform, dtype=tf.float32):
  with tf.Graph().as_default():
    tf1.set_random_seed(11)
    with tf1.variable_scope("s", initializer=xavier_initializer(uniform=uniform)):
      v = tf1.get_variable("w", shape, dtype=dtype)
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      return sess.run(v)


@pytest.mark.parametrize("shape,fan_in,fan_out", [([3, 50, 70], 150, 210), ([1024, 29], 1024, 29),
                                                  ([1, 256, 384], 256, 384)])
def test_uniform_limit(shape, fan_in, fan_out):
  values = _sample(shape, uniform=True).astype(np.float64)
  limit = math.sqrt(6.0 / (fan_in + fan_out))
  assert np.max(np.abs(values)) <= limit * (1 + 1e-6)
  assert np.max(values) > 0.98 * limit and np.min(values) < -0.98 * limit
  assert abs(values.std() - limit / math.sqrt(3.0)) < 0.05 * limit / math.sqrt(3.0)


def test_truncated_normal_sigma_and_cut():
  shape = [5, 100, 200]  # 100,000 samples; fan_in 500, fan_out 1000, fan_avg 750
  values = _sample(shape, uniform=False).astype(np.float64)
  sigma = math.sqrt(1.3 / 750.0)
  # std of a standard normal truncated at +-2 sigma is 0.8796
  np.testing.assert_allclose(values.std(), sigma * 0.8796, rtol=0.02)
  assert abs(values.mean()) < 0.01 * sigma
  assert np.max(np.abs(values)) <= 2 * sigma * (1 + 1e-5)
  assert np.max(np.abs(values)) > 1.95 * sigma


def test_float16_variable_gets_same_distribution():
  values = _sample([5, 100, 200], uniform=False, dtype=tf.float16)
  assert values.dtype == np.float16
  sigma = math.sqrt(1.3 / 750.0)
  np.testing.assert_allclose(values.astype(np.float64).std(), sigma * 0.8796, rtol=0.02)

"""The masked ReLU kernel (parts/masked_relu.py): relu(x) * mask and its gradient against numpy and bit for bit
against TensorFlow's Relu and Mul, in float32 and bfloat16; training with it gives bit-identical weights and
creates the same initial weights; evaluation graphs keep TensorFlow's ops; bad shapes are named."""
import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from open_seq2seq.parts import masked_relu
from tests.optimizers.speech_model_fixture import build_model

tf.disable_eager_execution()


@pytest.fixture
def kernel(monkeypatch):
  monkeypatch.setenv(masked_relu.ENABLE_ENV, "1")
  masked_relu.LIBRARY.reset()
  assert masked_relu.available(tf.bfloat16), "the masked ReLU kernel did not build"
  yield
  masked_relu.LIBRARY.reset()


def _bits(array):
  """The bit patterns of a float array (so that NaNs and signed zeros compare too); other arrays as they are."""
  array = np.atleast_1d(np.asarray(array))
  if array.dtype.kind == "i" or array.dtype == bool:
    return array
  return array.view({2: np.uint16, 4: np.uint32, 8: np.uint64}[array.dtype.itemsize])


@pytest.mark.parametrize("dtype", [tf.float32, tf.bfloat16])
def test_forward_and_gradient_match_numpy_and_tensorflows_ops_bit_for_bit(kernel, dtype):
  rng = np.random.default_rng(0)
  features = rng.standard_normal((3, 7, 5)).astype(np.float32)
  features[0, 0] = [0.0, -0.0, np.nan, np.inf, -np.inf]
  grads = rng.standard_normal(features.shape).astype(np.float32)
  grads[0, 1, :3] = [np.nan, np.inf, -2.0]
  lengths = np.array([7, 4, 0])
  with tf.Graph().as_default(), tf.Session() as sess:
    x = tf.cast(tf.constant(features), dtype)
    mask = tf.expand_dims(tf.sequence_mask(lengths, 7, dtype=dtype), -1)
    dy = tf.cast(tf.constant(grads), dtype)
    fused = masked_relu.masked_relu(x, mask)
    reference = tf.nn.relu(x) * mask
    got = sess.run([fused, tf.gradients(fused, x, dy)[0], reference, tf.gradients(reference, x, dy)[0],
                    x, dy])
  y, dx, y_ops, dx_ops, x_rounded, dy_rounded = got
  np.testing.assert_array_equal(_bits(y), _bits(y_ops))
  np.testing.assert_array_equal(_bits(dx), _bits(dx_ops))
  x64, dy64 = np.asarray(x_rounded, np.float64), np.asarray(dy_rounded, np.float64)
  keep = (np.arange(7)[None, :] < lengths[:, None])[..., None]
  with np.errstate(invalid="ignore"):
    expected = np.where(keep, np.where(np.isnan(x64) | (x64 > 0), x64, 0.0), 0.0)
    np.testing.assert_array_equal(np.asarray(y, np.float64), expected)
    np.testing.assert_array_equal(np.asarray(dx, np.float64), dy64 * (expected > 0))


def _train(monkeypatch, enabled, steps, **overrides):
  monkeypatch.setenv(masked_relu.ENABLE_ENV, "1" if enabled else "0")
  masked_relu.LIBRARY.reset()
  with tf.Graph().as_default() as graph:
    model = build_model(**overrides)
    kernels = sum(op.type == "JasperMaskedRelu" for op in graph.get_operations())
    with tf.Session() as sess:
      sess.run([tf.global_variables_initializer(), model.get_data_layer().iterator.initializer])
      initial = sess.run({var.op.name: var for var in tf.trainable_variables()})
      for _ in range(steps):
        sess.run(model.train_op)
      values = sess.run({var.op.name: var for var in tf.global_variables()})
  masked_relu.LIBRARY.reset()
  return initial, values, kernels


@pytest.mark.parametrize("dtype", [tf.float32, "bfloat16"])
def test_training_with_the_kernel_is_bit_identical(kernel, monkeypatch, dtype):
  initial, fused, kernels = _train(monkeypatch, True, 6, dtype=dtype)
  initial_ops, reference, none = _train(monkeypatch, False, 6, dtype=dtype)
  # the fixture's encoder has 4 sub-blocks; the last one's output is not masked
  assert kernels == 3 and none == 0
  assert sorted(fused) == sorted(reference)
  for name, value in initial_ops.items():
    np.testing.assert_array_equal(initial[name], value, err_msg=name)
  for name, value in reference.items():
    np.testing.assert_array_equal(_bits(fused[name]), _bits(value), err_msg=name)
  assert any(not np.array_equal(initial[name], reference[name]) for name in initial)


def test_evaluation_graphs_keep_tensorflows_ops(kernel):
  with tf.Graph().as_default() as graph:
    build_model(mode="eval")
    assert not any(op.type == "JasperMaskedRelu" for op in graph.get_operations())


def test_a_mask_of_the_wrong_shape_is_named(kernel):
  with tf.Graph().as_default(), tf.Session() as sess:
    op = masked_relu.masked_relu(tf.zeros([2, 3, 4]), tf.placeholder(tf.float32, [None, None, None]))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"mask must be \[B, T, 1\] = \[2, 3, 1\].*got \[2,3,4\]"):
      sess.run(op, {op.op.inputs[1]: np.zeros([2, 3, 4], np.float32)})

"""The gradient checks kernel (optimizers/gradient_flags.py): finite and all-zero flags against numpy, for every
gradient dtype, with the special values that decide them (NaN, +-Inf, -0, subnormals, which TensorFlow's CPU
arithmetic flushes to zero); the op-by-op path agrees."""
import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from open_seq2seq.optimizers import gradient_flags

tf.disable_eager_execution()

SPECIALS = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf, "-0": -0.0, "tiny": 1e-40, "small": 1e-6, "one": 1.0}


def _flags(enabled, monkeypatch, loss, arrays, dtypes):
  monkeypatch.setenv(gradient_flags.ENABLE_ENV, "1" if enabled else "0")
  gradient_flags.LIBRARY.reset()
  with tf.Graph().as_default() as graph, tf.Session() as sess:
    tensors = [tf.cast(tf.constant(a, tf.float32), d) for a, d in zip(arrays, dtypes)]
    flags = gradient_flags.gradient_flags(tf.constant(loss, tf.float32), tensors)
    kernels = sum(op.type == "JasperGradientFlags" for op in graph.get_operations())
    values = tuple(bool(v) for v in sess.run(flags))
  gradient_flags.LIBRARY.reset()
  return values, kernels


@pytest.mark.parametrize("dtype", [tf.float32, tf.bfloat16, tf.float16])
@pytest.mark.parametrize("special", sorted(SPECIALS))
@pytest.mark.parametrize("where", ["gradient", "loss"])
def test_flags_match_numpy(monkeypatch, dtype, special, where):
  rng = np.random.default_rng(0)
  # one large gradient (several of the kernel's blocks), zeros elsewhere, the special value in the middle of it
  arrays = [np.zeros(200003, np.float32), np.zeros((3, 5), np.float32)]
  loss = np.float32(2.5)
  if where == "gradient":
    arrays[0][rng.integers(70000, 130000)] = SPECIALS[special]
  else:
    loss = np.float32(SPECIALS[special])
  dtypes = [dtype, tf.float32]
  with tf.Graph().as_default(), tf.Session() as sess:
    rounded = sess.run([tf.cast(tf.cast(a, d), tf.float32) for a, d in zip(arrays, dtypes)])
  # TensorFlow's CPU arithmetic flushes float32 (and so bfloat16) subnormals: zero is below the smallest normal
  # number; float16 is compared in float32, where its subnormals (1e-6) are normal, so zero is 0.
  zero = [a == 0 if d == tf.float16 else np.abs(a) < 2.0 ** -126 for a, d in zip(rounded, dtypes)]
  expected = (bool(np.isfinite(loss) and all(np.isfinite(a).all() for a in rounded)), bool(all(z.all() for z in zero)))
  fused, kernels = _flags(True, monkeypatch, loss, arrays, dtypes)
  op_by_op, none = _flags(False, monkeypatch, loss, arrays, dtypes)
  assert kernels == 1 and none == 0
  assert fused == expected == op_by_op


def test_no_gradients_are_all_zero_and_finite(monkeypatch):
  assert _flags(True, monkeypatch, 1.0, [], []) == ((True, True), 1)

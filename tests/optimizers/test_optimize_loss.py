"""optimize_loss against numpy: LARC (clip and scale), global-norm clipping, gradient accumulation, and the
summaries it writes."""
import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from open_seq2seq.optimizers.lr_policies import fixed_lr
from open_seq2seq.optimizers.novograd import NovoGrad
from open_seq2seq.optimizers.optimize_loss import optimize_loss

tf.disable_eager_execution()

RNG = np.random.default_rng(7)
X = RNG.standard_normal((8, 5)).astype(np.float32)
Y = RNG.standard_normal((8, 3)).astype(np.float32)
W0 = RNG.standard_normal((5, 3)).astype(np.float32)
B0 = np.zeros(3, np.float32)
LR = 0.1


def numpy_gradients(w, b, x, y):
  """Gradients of mean((x w + b - y)^2) over all entries."""
  residual = x @ w + b - y
  scale = 2.0 / residual.size
  return scale * x.T @ residual, scale * residual.sum(axis=0)


def linear_step(runs, iter_size=1, optimizer="SGD", optimizer_params=None, **options):
  """Builds the linear least-squares model and feeds ``runs`` (a list of (x, y)); returns w, b, global_step."""
  with tf.Graph().as_default():
    x = tf.placeholder(tf.float32, [None, 5])
    y = tf.placeholder(tf.float32, [None, 3])
    w = tf.get_variable("w", initializer=W0)
    b = tf.get_variable("b", initializer=B0)
    loss = tf.reduce_mean(tf.square(tf.matmul(x, w) + b - y))
    skip = tf.placeholder_with_default(False, []) if iter_size > 1 else None
    train_op, _ = optimize_loss(loss, optimizer, optimizer_params or {},
                                lambda step: fixed_lr(step, learning_rate=LR), summaries=[],
                                iter_size=iter_size, skip_update_ph=skip, **options)
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      for index, (x_value, y_value) in enumerate(runs):
        feed = {x: x_value, y: y_value}
        if skip is not None:
          feed[skip] = index % iter_size != iter_size - 1
        sess.run(train_op, feed)
      return sess.run(w), sess.run(b), sess.run(tf.train.get_global_step())


@pytest.mark.parametrize("mode", ["clip", "scale"])
def test_larc_matches_numpy(mode):
  eta = 0.002
  w, b, step = linear_step([(X, Y)], larc_params={"larc_eta": eta, "larc_mode": mode})
  grad_w, grad_b = numpy_gradients(W0, B0, X, Y)
  expected = []
  for var, grad in [(W0, grad_w), (B0, grad_b)]:
    if mode == "clip":
      ratio = min(max(eta * np.linalg.norm(var) / (LR * (np.linalg.norm(grad) + 1e-7)), 1e-7), 1.0)
    else:
      ratio = max(eta * np.linalg.norm(var) / (np.linalg.norm(grad) + 1e-7), 1e-7)
    expected.append(var - LR * ratio * grad)
  assert step == 1
  np.testing.assert_allclose(w, expected[0], rtol=1e-5, atol=1e-7)
  np.testing.assert_allclose(b, expected[1], rtol=1e-5, atol=1e-7)  # ||b|| = 0: ratio = min_update


def test_larc_clip_leaves_small_updates_alone():
  w, _, _ = linear_step([(X, Y)], larc_params={"larc_eta": 100.0})
  grad_w, _ = numpy_gradients(W0, B0, X, Y)
  np.testing.assert_allclose(w, W0 - LR * grad_w, rtol=1e-5)


@pytest.mark.parametrize("max_norm", [0.05, 1e3])
def test_global_norm_clipping_matches_numpy(max_norm):
  w, b, _ = linear_step([(X, Y)], clip_gradients=max_norm)
  grad_w, grad_b = numpy_gradients(W0, B0, X, Y)
  norm = np.sqrt(np.sum(grad_w ** 2) + np.sum(grad_b ** 2))
  factor = min(1.0, max_norm / norm)
  np.testing.assert_allclose(w, W0 - LR * factor * grad_w, rtol=1e-5)
  np.testing.assert_allclose(b, B0 - LR * factor * grad_b, rtol=1e-5, atol=1e-7)


def test_larc_and_clipping_are_exclusive():
  with pytest.raises(AttributeError, match="LARC and gradient norm clipping"):
    linear_step([(X, Y)], clip_gradients=1.0, larc_params={"larc_eta": 0.001})


@pytest.mark.parametrize("optimizer,params", [("SGD", {}), (NovoGrad, {"weight_decay": 0.01})])
def test_iter_size_two_equals_double_batch(optimizer, params):
  """iter_size=2 at batch B: two updates from four half batches equal two updates at batch 2B."""
  halves = [(X[:4], Y[:4]), (X[4:], Y[4:])]
  accumulated = linear_step(halves * 2, iter_size=2, optimizer=optimizer, optimizer_params=params)
  full = linear_step([(X, Y)] * 2, optimizer=optimizer, optimizer_params=params)
  assert accumulated[2] == full[2] == 2
  np.testing.assert_allclose(accumulated[0], full[0], rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(accumulated[1], full[1], rtol=1e-5, atol=1e-6)


def test_accumulation_runs_do_not_update():
  w, b, step = linear_step([(X, Y)], iter_size=3)
  assert step == 0
  np.testing.assert_array_equal(w, W0)
  np.testing.assert_array_equal(b, B0)


def test_iter_size_needs_the_skip_placeholder():
  with tf.Graph().as_default():
    w = tf.get_variable("w", initializer=W0)
    with pytest.raises(ValueError, match="skip_update_ph"):
      optimize_loss(tf.reduce_sum(w), "SGD", {}, lambda step: fixed_lr(step, learning_rate=LR), iter_size=2)


def test_unknown_summary_is_refused():
  with tf.Graph().as_default():
    w = tf.get_variable("w", initializer=W0)
    with pytest.raises(ValueError, match="Unknown summary 'weights'"):
      optimize_loss(tf.reduce_sum(w), "SGD", {}, lambda step: fixed_lr(step, learning_rate=LR), summaries=["weights"])

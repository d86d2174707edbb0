"""The CTC loss kernel (losses/ctc_kernel.py): loss against the float64 numpy forward algorithm, gradient
against finite differences of it, edge cases and main-job-sized batches against TensorFlow's CTCLoss, errors
that name the bad input, and the fallback to TensorFlow's op."""
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from open_seq2seq.losses import ctc_kernel
from tests.losses.test_ctc_loss import log_softmax, numpy_ctc_nll

tf.disable_eager_execution()


@pytest.fixture
def kernel(monkeypatch):
  monkeypatch.setenv(ctc_kernel.ENABLE_ENV, "1")
  ctc_kernel.LIBRARY.reset()
  ops = ctc_kernel.LIBRARY.ops()
  assert ops is not None, "the CTC loss kernel did not build"
  yield ops
  ctc_kernel.LIBRARY.reset()


def _run(ops, logits, labels, label_length, frames):
  """(loss [B], gradient [T, B, V]) of the kernel."""
  with tf.Graph().as_default(), tf.Session() as sess:
    return sess.run(ops.jasper_ctc_loss(np.asarray(logits, np.float32), np.asarray(labels, np.int32),
                                        np.asarray(label_length, np.int32), np.asarray(frames, np.int32)))


def _tensorflow(logits, labels, label_length, frames):
  """(loss [B], gradient [T, B, V]) of tf.nn.ctc_loss with the CTCLoss settings."""
  with tf.Graph().as_default(), tf.Session() as sess:
    x = tf.constant(np.asarray(logits, np.float32))
    loss = tf.nn.ctc_loss(labels=ctc_kernel._dense_to_sparse(tf.constant(labels, tf.int32),
                                                             tf.constant(label_length, tf.int32)),
                          inputs=x, sequence_length=tf.constant(frames, tf.int32),
                          preprocess_collapse_repeated=False, ctc_merge_repeated=True,
                          ignore_longer_outputs_than_inputs=True, time_major=True)
    return sess.run([loss, tf.gradients(loss, x)[0]])


def test_loss_and_gradient_match_float64_numpy_and_finite_differences(kernel):
  rng = np.random.RandomState(0)
  T, B, V = 7, 3, 5
  logits = (2 * rng.randn(T, B, V)).astype(np.float32)
  labels = np.array([[1, 2, 2, 0], [3, 3, 0, 0], [0, 1, 2, 3]], np.int32)  # repeats need a blank between
  label_length = np.array([3, 2, 4], np.int32)
  frames = np.array([7, 5, 6], np.int32)
  loss, grad = _run(kernel, logits, labels, label_length, frames)
  for b in range(B):
    x = logits[:frames[b], b].astype(np.float64)
    label = labels[b, :label_length[b]]
    np.testing.assert_allclose(loss[b], numpy_ctc_nll(x, label, blank=V - 1), rtol=1e-5)
    numeric = np.zeros_like(x)
    for index in np.ndindex(*x.shape):
      step = np.zeros_like(x)
      step[index] = 1e-5
      numeric[index] = (numpy_ctc_nll(x + step, label, V - 1) - numpy_ctc_nll(x - step, label, V - 1)) / 2e-5
    np.testing.assert_allclose(grad[:frames[b], b], numeric, atol=2e-5)
    np.testing.assert_array_equal(grad[frames[b]:, b], 0.0)


def test_closed_forms(kernel):
  """One frame, one label: -log softmax(x)[label]; an empty label: -sum_t log softmax(x_t)[blank] (TensorFlow's
  op refuses empty labels); uniform logits, 2 frames, label [0] of 2 classes: paths 0b, b0, 00 -> -log 3/4."""
  x = np.array([[[0.3, -1.0, 2.0]], [[1.0, 0.5, -0.5]]], np.float32)
  loss, _ = _run(kernel, x[:1], [[1]], [1], [1])
  np.testing.assert_allclose(loss[0], -log_softmax(x[0, 0])[1], rtol=1e-6)
  loss, grad = _run(kernel, x, [[0]], [0], [2])
  np.testing.assert_allclose(loss[0], -log_softmax(x[:, 0])[:, 2].sum(), rtol=1e-6)
  np.testing.assert_allclose(grad[:, 0], np.exp(log_softmax(x[:, 0])) - np.eye(3)[2], atol=1e-6)
  loss, _ = _run(kernel, np.zeros((2, 1, 2)), [[0]], [1], [2])
  np.testing.assert_allclose(loss[0], -np.log(3 / 4), rtol=1e-6)


@pytest.mark.parametrize("case", ["longer", "repeats", "empty_sequence", "exact_fit", "all_repeats"])
def test_edge_cases_as_tensorflow(kernel, case):
  """Loss and gradient as TensorFlow's CTCLoss: a label longer than its frames or an empty sequence gives 0 and
  no gradient; a label whose repeats leave no path gives +inf and the softmax as gradient."""
  rng = np.random.RandomState(1)
  labels, label_length, frames = {
      "longer": ([[0, 1, 2, 3]], [4], [3]),
      "repeats": ([[2, 2, 2, 0]], [3], [4]),
      "empty_sequence": ([[1, 2, 0, 0]], [2], [0]),
      "exact_fit": ([[0, 1, 2, 3]], [4], [4]),
      "all_repeats": ([[1, 1, 1, 1]], [4], [7]),
  }[case]
  logits = rng.randn(7, 1, 5).astype(np.float32)
  loss, grad = _run(kernel, logits, labels, label_length, frames)
  expected_loss, expected_grad = _tensorflow(logits, labels, label_length, frames)
  np.testing.assert_allclose(loss, expected_loss, rtol=1e-5)
  np.testing.assert_allclose(grad, expected_grad, atol=1e-5)


def _float64_gradient(logits, label, blank):
  """Gradient of the CTC loss of one utterance ``[T, V]`` in float64: softmax minus the state posteriors
  alpha * beta / p (Graves' thesis eq. 7.28), the recursions written out with numpy."""
  log_y = log_softmax(logits.astype(np.float64))
  extended = [blank]
  for c in label:
    extended += [c, blank]
  T, U = len(log_y), len(extended)
  skip = [u > 1 and extended[u] != blank and extended[u] != extended[u - 2] for u in range(U)]
  alpha, beta = np.full((T, U), -np.inf), np.full((T, U), -np.inf)
  alpha[0, :2] = log_y[0, extended[:2]]
  for t in range(1, T):
    for u in range(U):
      terms = alpha[t - 1, max(0, u - (2 if skip[u] else 1)):u + 1]
      alpha[t, u] = np.logaddexp.reduce(terms) + log_y[t, extended[u]]
  beta[T - 1, U - 2:] = 0.0
  for t in range(T - 2, -1, -1):
    for u in range(U):
      terms = [beta[t + 1, v] + log_y[t + 1, extended[v]] for v in range(u, min(U, u + 3))
               if v < u + 2 or skip[v]]
      beta[t, u] = np.logaddexp.reduce(terms)
  log_p = np.logaddexp(alpha[T - 1, U - 1], alpha[T - 1, U - 2])
  occupancy = np.zeros_like(log_y)
  np.add.at(occupancy.T, extended, np.exp(alpha + beta - log_p).T)
  return np.exp(log_y) - occupancy


def test_main_job_sized_batch_matches_tensorflow_and_float64(kernel):
  """16 utterances of up to 300 frames, labels of up to 100 characters: the loss within float32 rounding of
  TensorFlow's; the gradient within 5e-4 of float64 and no further from it than TensorFlow's (whose posteriors
  keep the rounding of alpha + beta - log p, each ~1e3 here: 4-6e-4 off, against the kernel's 0.3-3e-4)."""
  rng = np.random.RandomState(2)
  T, B, V, L = 300, 16, 29, 100
  logits = (3 * rng.randn(T, B, V)).astype(np.float32)
  labels = rng.randint(0, V - 1, (B, L)).astype(np.int32)
  label_length = rng.randint(L // 2, L + 1, B).astype(np.int32)
  frames = rng.randint(T // 2, T + 1, B).astype(np.int32)
  label_length[0], frames[0] = L, T
  loss, grad = _run(kernel, logits, labels, label_length, frames)
  expected_loss, expected_grad = _tensorflow(logits, labels, label_length, frames)
  np.testing.assert_allclose(loss, expected_loss, rtol=2e-6)
  np.testing.assert_allclose(grad, expected_grad, atol=2e-3)
  for b in range(2):
    exact = _float64_gradient(logits[:frames[b], b], labels[b, :label_length[b]], V - 1)
    error = np.abs(grad[:frames[b], b] - exact).max()
    assert error < 5e-4 and error <= np.abs(expected_grad[:frames[b], b] - exact).max(), b
  # each frame's gradient is softmax minus a distribution over the classes: it sums to 0
  np.testing.assert_allclose(grad.sum(axis=2), 0.0, atol=1e-5)


def test_non_finite_logits_give_nan_for_that_utterance_only(kernel):
  logits = np.random.RandomState(3).randn(4, 2, 3).astype(np.float32)
  logits[2, 0, 1] = np.nan
  loss, grad = _run(kernel, logits, [[0, 1], [1, 0]], [2, 2], [4, 4])
  assert np.isnan(loss[0]) and np.isnan(grad[:, 0]).all()
  assert np.isfinite(loss[1]) and np.isfinite(grad[:, 1]).all()


@pytest.mark.parametrize("labels,label_length,frames,message", [
    ([[0, 4]], [2], [3], r"labels\[0, 1\] = 4 is outside \[0, 3\] \(class 4 is the blank\)"),
    ([[0, -1]], [2], [3], r"labels\[0, 1\] = -1"),
    ([[0, 1]], [2], [5], r"sequence_length\[0\] = 5 is outside \[0, 4\]"),
    ([[0, 1]], [3], [4], r"label_length\[0\] = 3 is outside \[0, 2\]"),
])
def test_bad_inputs_are_named(kernel, labels, label_length, frames, message):
  with pytest.raises(tf.errors.InvalidArgumentError, match=message):
    _run(kernel, np.zeros((4, 1, 5)), labels, label_length, frames)


def test_gradient_through_the_loss_function_scales_by_the_incoming_gradient(kernel):
  rng = np.random.RandomState(4)
  logits = rng.randn(5, 2, 4).astype(np.float32)
  labels, label_length, frames = np.array([[0, 1], [2, 2]]), np.array([2, 2]), np.array([5, 4])
  _, per_utterance = _run(kernel, logits, labels, label_length, frames)
  with tf.Graph().as_default(), tf.Session() as sess:
    x = tf.constant(logits)
    loss = ctc_kernel.ctc_loss(tf.constant(labels), tf.constant(label_length), x, tf.constant(frames))
    grad = sess.run(tf.gradients(3.0 * loss[0] + 0.5 * loss[1], x)[0])
  np.testing.assert_allclose(grad, per_utterance * np.array([3.0, 0.5])[None, :, None], rtol=1e-6)


def test_without_a_working_compiler_the_loss_uses_tensorflows_op(tmp_path, monkeypatch, capfd):
  monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
  monkeypatch.setenv("JASPER_OPS_CACHE", str(tmp_path / "ops"))
  monkeypatch.setenv(ctc_kernel.ENABLE_ENV, "1")
  ctc_kernel.LIBRARY.reset()
  with tf.Graph().as_default() as graph:
    loss = ctc_kernel.ctc_loss(tf.constant([[0, 1]]), tf.constant([2]), tf.zeros([3, 1, 4]), tf.constant([3]))
    ctc_kernel.ctc_loss(tf.constant([[0, 1]]), tf.constant([2]), tf.zeros([3, 1, 4]), tf.constant([3]))
    ops = {op.type for op in graph.get_operations()}
    with tf.Session() as sess:
      np.testing.assert_allclose(sess.run(loss), _tensorflow(np.zeros((3, 1, 4)), [[0, 1]], [2], [3])[0])
  assert "CTCLoss" in ops and "JasperCtcLoss" not in ops
  lines = [line for line in capfd.readouterr().err.splitlines() if "CTC loss kernel" in line]
  assert len(lines) == 1 and "no C++ compiler" in lines[0] and "TensorFlow's CTCLoss" in lines[0], lines
  assert not os.path.exists(tmp_path / "ops")
  ctc_kernel.LIBRARY.reset()


def test_results_repeat_bit_for_bit_whatever_the_utterance_order(kernel):
  """Training runs repeat: an utterance's loss and gradient do not depend on its place in the batch, on the
  thread that computes it, or on where its buffers land in memory."""
  rng = np.random.RandomState(5)
  T, B, V = 120, 8, 29
  logits = (3 * rng.randn(T, B, V)).astype(np.float32)
  labels = rng.randint(0, V - 1, (B, 40)).astype(np.int32)
  label_length = rng.randint(20, 41, B).astype(np.int32)
  frames = rng.randint(60, T + 1, B).astype(np.int32)
  loss, grad = _run(kernel, logits, labels, label_length, frames)
  order = rng.permutation(B)
  for _ in range(2):
    again, again_grad = _run(kernel, logits[:, order], labels[order], label_length[order], frames[order])
    np.testing.assert_array_equal(again, loss[order])
    np.testing.assert_array_equal(again_grad, grad[:, order])

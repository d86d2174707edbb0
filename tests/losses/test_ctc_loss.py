"""CTCLoss (spec 4.8) against a numpy CTC forward algorithm (log-space alpha recursion), on the CTC loss kernel
and on TensorFlow's CTCLoss."""
import numpy as np
import pytest
import tensorflow as tf

from open_seq2seq.losses import CTCLoss

tf.compat.v1.disable_eager_execution()
tf1 = tf.compat.v1
pytestmark = pytest.mark.usefixtures("ctc_path")


def log_softmax(x):
  x = x - x.max(axis=-1, keepdims=True)
  return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def numpy_ctc_nll(logits_tv, label, blank):
  """-log p(label | logits) for one utterance; logits [T, V] (already cut to the valid frames)."""
  logp = log_softmax(logits_tv.astype(np.float64))
  T = logp.shape[0]
  ext = [blank]
  for c in label:
    ext += [c, blank]
  S = len(ext)
  alpha = np.full((T, S), -np.inf)
  alpha[0, 0] = logp[0, blank]
  if S > 1:
    alpha[0, 1] = logp[0, ext[1]]
  for t in range(1, T):
    for s in range(S):
      terms = [alpha[t - 1, s]]
      if s >= 1:
        terms.append(alpha[t - 1, s - 1])
      if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
        terms.append(alpha[t - 1, s - 2])
      alpha[t, s] = np.logaddexp.reduce(terms) + logp[t, ext[s]]
  final = [alpha[T - 1, S - 1]] + ([alpha[T - 1, S - 2]] if S > 1 else [])
  return -np.logaddexp.reduce(final)


def _loss(logits, src_len, labels, label_len, with_grad=False):
  with tf.Graph().as_default():
    lg = tf1.placeholder(tf.float32, logits.shape)
    loss = CTCLoss({}, None).compute_loss({
        "decoder_output": {"logits": lg, "src_length": tf.constant(src_len, tf.int32)},
        "target_tensors": [tf.constant(labels, tf.int32), tf.constant(label_len, tf.int32)]})
    fetches = [loss] + ([tf.gradients(loss, lg)[0]] if with_grad else [])
    with tf1.Session() as sess:
      return sess.run(fetches, {lg: logits})


def test_numpy_reference_sanity():
  """Single-frame, single-label case has a closed form: -log softmax(x)[label]."""
  x = np.array([[0.3, -1.0, 2.0]])
  np.testing.assert_allclose(numpy_ctc_nll(x, [1], blank=2), -log_softmax(x)[0, 1])
  # uniform distribution over V=2 classes, T=2, label [0]: paths (0,b),(b,0),(0,0) -> 3/4
  np.testing.assert_allclose(numpy_ctc_nll(np.zeros((2, 2)), [0], blank=1), -np.log(3 / 4))


def test_ctc_loss_matches_numpy():
  rng = np.random.RandomState(0)
  T, B, V = 6, 2, 5
  logits = rng.randn(T, B, V).astype(np.float32) * 2
  src_len = np.array([6, 4], np.int32)
  logits[4:, 1] = 50.0 * rng.randn(2, V)  # garbage beyond the second utterance's length
  labels = np.array([[1, 2, 2], [3, 0, 1]], np.int32)  # row 1: label [3], then padding garbage
  label_len = np.array([3, 1], np.int32)
  (got,) = _loss(logits, src_len, labels, label_len)
  per = [numpy_ctc_nll(logits[:src_len[b], b], labels[b, :label_len[b]], blank=V - 1) for b in range(B)]
  np.testing.assert_allclose(got, np.mean(per), rtol=1e-5)


def test_label_longer_than_input_contributes_zero():
  rng = np.random.RandomState(1)
  T, B, V = 6, 3, 5
  logits = rng.randn(T, B, V).astype(np.float32)
  src_len = np.array([6, 5, 2], np.int32)
  labels = np.array([[0, 1, 2], [3, 3, 2], [1, 2, 3]], np.int32)
  label_len = np.array([2, 2, 3], np.int32)  # utterance 2: 3 labels > 2 frames
  got, grad = _loss(logits, src_len, labels, label_len, with_grad=True)
  per = [numpy_ctc_nll(logits[:src_len[b], b], labels[b, :label_len[b]], blank=V - 1) for b in range(2)]
  np.testing.assert_allclose(got, (per[0] + per[1] + 0.0) / 3, rtol=1e-5)  # denominator counts all 3
  np.testing.assert_array_equal(grad[:, 2], 0.0)
  assert np.any(grad[:, 0] != 0)


def test_infeasible_repeat_label_is_masked_to_zero():
  """Label [1, 1] needs 3 frames (a blank between the repeats); with 2 frames the loss is inf -> masked 0."""
  rng = np.random.RandomState(2)
  logits = rng.randn(4, 2, 4).astype(np.float32)
  src_len = np.array([4, 2], np.int32)
  labels = np.array([[1, 2], [1, 1]], np.int32)
  label_len = np.array([2, 2], np.int32)
  assert np.isinf(numpy_ctc_nll(logits[:2, 1], [1, 1], blank=3))
  (got,) = _loss(logits, src_len, labels, label_len)
  expected = numpy_ctc_nll(logits[:4, 0], [1, 2], blank=3) / 2
  np.testing.assert_allclose(got, expected, rtol=1e-5)

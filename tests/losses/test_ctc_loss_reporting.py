"""CTCLoss separates utterances that cannot be aligned (counted, loss 0, no gradient) from a diverged model
(non-finite loss left visible), checked against the numpy CTC forward algorithm of test_ctc_loss."""
import numpy as np
import pytest
import tensorflow as tf

from open_seq2seq.losses import CTCLoss
from open_seq2seq.losses.ctc_loss import UNALIGNABLE_UTTERANCES
from tests.losses.test_ctc_loss import numpy_ctc_nll

tf.compat.v1.disable_eager_execution()
tf1 = tf.compat.v1


def _run(logits, src_len, labels, label_len):
  """``(batch loss, d loss / d logits, unalignable count)`` of CTCLoss in a fresh graph."""
  with tf.Graph().as_default():
    placeholder = tf1.placeholder(tf.float32, logits.shape)
    loss = CTCLoss({}, None).compute_loss({
        "decoder_output": {"logits": placeholder, "src_length": tf.constant(src_len, tf.int32)},
        "target_tensors": [tf.constant(labels, tf.int32), tf.constant(label_len, tf.int32)]})
    (count,) = tf1.get_collection(UNALIGNABLE_UTTERANCES + "/train")
    with tf1.Session() as sess:
      return sess.run([loss, tf.gradients(loss, placeholder)[0], count], {placeholder: logits})


def _random_batch(seed, batch=12, frames=7, vocab=4, max_label=6):
  """Short labels over a 3-letter alphabet, so repeats and too-short inputs are frequent."""
  rng = np.random.RandomState(seed)
  logits = rng.randn(frames, batch, vocab).astype(np.float32)
  src_len = rng.randint(1, frames + 1, size=batch).astype(np.int32)
  label_len = rng.randint(1, max_label + 1, size=batch).astype(np.int32)
  labels = rng.randint(0, vocab - 1, size=(batch, max_label)).astype(np.int32)
  return logits, src_len, labels, label_len


@pytest.mark.parametrize("seed", range(6))
def test_unalignable_count_and_loss_of_the_others_match_numpy(seed):
  logits, src_len, labels, label_len = _random_batch(seed)
  blank = logits.shape[2] - 1
  per = np.array([numpy_ctc_nll(logits[:src_len[b], b], labels[b, :label_len[b]], blank)
                  for b in range(len(src_len))])
  unalignable = ~np.isfinite(per)  # no path at all: the forward algorithm's probability is exactly 0
  assert 0 < unalignable.sum() < len(per), "the seed should mix both kinds"
  loss, grad, count = _run(logits, src_len, labels, label_len)
  assert count == unalignable.sum()
  # The reference's batch mean: unalignable utterances add 0 but still count in the denominator.
  np.testing.assert_allclose(loss, per[~unalignable].sum() / len(per), rtol=1e-5)
  assert np.all(grad[:, unalignable] == 0.0)
  assert np.all(np.any(grad[:, ~unalignable] != 0.0, axis=(0, 2)))


def test_repeats_need_a_blank_frame_between_them():
  """Label 'aab' needs 4 frames; 'abab' needs 4 as well (no equal neighbours)."""
  logits = np.zeros((4, 4, 3), np.float32)
  labels = np.array([[0, 0, 1, 0], [0, 0, 1, 0], [0, 1, 0, 1], [0, 1, 0, 1]], np.int32)
  label_len = np.array([3, 3, 4, 4], np.int32)
  src_len = np.array([3, 4, 3, 4], np.int32)
  _, _, count = _run(logits, src_len, labels, label_len)
  assert count == 2


@pytest.mark.parametrize("poison", [np.nan, np.inf, 1e38])
def test_a_diverged_alignable_utterance_keeps_the_loss_non_finite(poison):
  rng = np.random.RandomState(3)
  logits = rng.randn(5, 2, 4).astype(np.float32)
  logits[:, 1, 0] = poison
  if poison == 1e38:
    logits[:, 1, 1] = -1e38  # a log-softmax spread beyond float32: the label's probability underflows to 0
  labels = np.array([[1, 2], [1, 2]], np.int32)
  loss, _, count = _run(logits, np.array([5, 5], np.int32), labels, np.array([2, 2], np.int32))
  assert count == 0
  assert not np.isfinite(loss)

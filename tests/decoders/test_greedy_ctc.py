"""Greedy CTC decoding: the graph form (TensorFlow's decoder) and the numpy form give the same ids, ties
included, and both match hand-made best paths."""
import numpy as np
import pytest
import tensorflow as tf

from open_seq2seq.decoders.greedy_ctc import (greedy_ctc_decode, greedy_ctc_ids, greedy_transcript, ids_to_text,
                                              sparse_to_strings)

tf.compat.v1.disable_eager_execution()
tf1 = tf.compat.v1
LABELS = list(" abc")  # blank is id 4


def graph_decode(logits, lengths):
  """``greedy_ctc_decode`` of time-major ``[T, B, V+1]`` logits: ``(ids per row, SparseTensorValue)``."""
  with tf.Graph().as_default():
    lg = tf1.placeholder(tf.float32, [None, logits.shape[1], logits.shape[2]])
    ln = tf1.placeholder(tf.int32, [logits.shape[1]])
    decoded = greedy_ctc_decode(lg, ln)
    with tf1.Session() as sess:
      value = sess.run(decoded, {lg: logits, ln: lengths})
  rows = [[] for _ in range(logits.shape[1])]
  for (row, _), class_id in zip(value.indices, value.values):
    rows[row].append(int(class_id))
  return rows, value


def one_hot_path(path, num_classes=len(LABELS) + 1):
  logits = np.full((len(path), num_classes), -5.0, np.float32)
  logits[np.arange(len(path)), path] = 5.0
  return logits


def test_hand_made_path():
  path = [1, 1, 4, 1, 2, 2, 4, 4, 3, 0, 0, 3, 3]  # repeats merged, a blank separates two a's
  assert greedy_ctc_ids(one_hot_path(path)) == [1, 1, 2, 3, 0, 3]
  padded = np.concatenate([one_hot_path(path), one_hot_path([2, 2])])[:, None]  # frames past the length: ignored
  assert graph_decode(padded, np.array([len(path)], np.int32))[0] == [[1, 1, 2, 3, 0, 3]]
  assert greedy_transcript(one_hot_path(path), LABELS) == "aabc c"
  assert greedy_transcript(one_hot_path([4, 4]), LABELS) == ""


@pytest.mark.parametrize("num_classes", [3, 5, 29])
def test_numpy_and_graph_forms_agree(num_classes):
  rng = np.random.RandomState(num_classes)
  # Integer logits make equal maxima common: the first of them must win in both forms.
  for logits in (rng.randn(20, 7, num_classes).astype(np.float32),
                 rng.randint(0, 3, (20, 7, num_classes)).astype(np.float32)):
    lengths = np.array([20, 13, 1, 2, 0, 19, 7], np.int32)
    rows, _ = graph_decode(logits, lengths)
    assert rows == [greedy_ctc_ids(logits[:n, b]) for b, n in enumerate(lengths)]


def test_sparse_to_strings_and_greedy_transcript_agree():
  rng = np.random.RandomState(0)
  logits = rng.randint(0, 4, (12, 3, len(LABELS) + 1)).astype(np.float32)
  lengths = np.array([12, 5, 0], np.int32)
  _, value = graph_decode(logits, lengths)
  idx2char = dict(enumerate(LABELS))
  assert sparse_to_strings(value, idx2char, 3) == [greedy_transcript(logits[:n, b], LABELS)
                                                   for b, n in enumerate(lengths)]


def test_an_id_outside_the_vocabulary_is_an_error():
  assert ids_to_text([3, 1], dict(enumerate(LABELS))) == "ca"
  with pytest.raises(KeyError):
    ids_to_text([4], dict(enumerate(LABELS)))
  with pytest.raises(IndexError):
    ids_to_text([4], LABELS)

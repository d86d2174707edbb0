"""Greedy (best-path) CTC decoding: the arg-max class per frame, repeats merged, the blank (the last class, id V)
dropped, ids mapped through the vocabulary. One definition in two forms that give the same ids: inside the
graph (``greedy_ctc_decode``, eval and infer mode) and over numpy logits (``greedy_ctc_ids``, for logits files
and exported-graph outputs), as OpenSeq2Seq's ``tf.nn.ctc_greedy_decoder`` with ``merge_repeated=True``.
"""
import numpy as np
import tensorflow.compat.v1 as tf


def greedy_ctc_decode(time_major_logits, sequence_length):
  """Time-major logits ``[T, B, V+1]`` (any float type) and valid frames ``[B]`` int32 -> a SparseTensor
  ``[B, max decoded length]`` of int64 ids (row ``b`` holds utterance b's ids in order)."""
  decoded, _ = tf.nn.ctc_greedy_decoder(tf.cast(time_major_logits, tf.float32), sequence_length,
                                        merge_repeated=True)
  return decoded[0]


def greedy_ctc_ids(logits):
  """One utterance's logits ``[T, V+1]`` (valid frames only) -> its decoded ids (a list of ints < V).
  The first of equal maxima wins, as in TensorFlow's decoder."""
  best = np.argmax(logits, axis=1)
  blank = logits.shape[1] - 1
  return [int(c) for i, c in enumerate(best) if c != blank and (i == 0 or c != best[i - 1])]


def ids_to_text(ids, idx2char):
  """The transcript of ``ids`` (ints < V): their characters joined; ``idx2char`` is ``{id: char}`` or a list
  indexed by id. An id outside the vocabulary (such as the blank) raises KeyError or IndexError, as in
  OpenSeq2Seq's ``sparse_tensor_to_chars``."""
  return "".join(idx2char[i] for i in ids)


def greedy_transcript(logits, idx2char):
  """One utterance's logits ``[T, V+1]`` -> its greedy transcript (``greedy_ctc_ids``, then ``ids_to_text``)."""
  return ids_to_text(greedy_ctc_ids(logits), idx2char)


def sparse_to_strings(sparse_value, idx2char, batch_size):
  """The evaluated output of ``greedy_ctc_decode`` (a SparseTensorValue) -> ``batch_size`` transcripts, one per
  batch row (rows without ids give ""); errors as ``ids_to_text``."""
  ids = [[] for _ in range(batch_size)]
  for (row, _), value in zip(sparse_value.indices, sparse_value.values):
    ids[row].append(int(value))
  return [ids_to_text(row_ids, idx2char) for row_ids in ids]

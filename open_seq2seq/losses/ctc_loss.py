"""Connectionist temporal classification loss (always float32)."""
import tensorflow.compat.v1 as tf

from .loss import Loss


def dense_to_sparse(dense, lengths):
  """``[B, L]`` labels plus their lengths -> SparseTensor of the valid positions."""
  mask = tf.sequence_mask(lengths, tf.shape(dense)[1])
  indices = tf.where(mask)
  values = tf.gather_nd(dense, indices)
  return tf.SparseTensor(indices, values, tf.cast(tf.shape(dense), tf.int64))


class CTCLoss(Loss):
  """Mean over the batch of per-utterance CTC losses on time-major logits; blank = last class.

  Utterances whose label is longer than their encoder output get loss 0 and no gradient
  (``ignore_longer_outputs_than_inputs``); with ``mask_nan`` non-finite losses are zeroed too.
  """

  @staticmethod
  def get_optional_params():
    return {"mask_nan": bool}

  def __init__(self, params, model, name="ctc_loss"):
    super().__init__(params, model, name)
    self._mask_nan = self._params.get("mask_nan", True)

  def compute_loss(self, input_dict):
    logits = tf.cast(input_dict["decoder_output"]["logits"], tf.float32)
    src_length = input_dict["decoder_output"]["src_length"]
    labels, label_length = input_dict["target_tensors"]
    with tf.name_scope(self._name):
      per_utterance = tf.nn.ctc_loss(
          labels=dense_to_sparse(labels, label_length), inputs=logits, sequence_length=src_length,
          preprocess_collapse_repeated=False, ctc_merge_repeated=True,
          ignore_longer_outputs_than_inputs=True, time_major=True)
      if self._mask_nan:
        per_utterance = tf.where(tf.math.is_finite(per_utterance), per_utterance,
                                 tf.zeros_like(per_utterance))
      return tf.reduce_mean(per_utterance)

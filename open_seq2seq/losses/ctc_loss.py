"""Connectionist temporal classification loss (always float32), computed by the CTC loss kernel where it builds
(ctc_kernel.py), else by tf.nn.ctc_loss."""
import tensorflow.compat.v1 as tf

from open_seq2seq.utils.params import Param
from .ctc_kernel import ctc_loss
from .loss import Loss

# Graph collection (suffixed "/<mode>") holding the int32 scalar: utterances of this batch whose label cannot
# be aligned to their frames, and which therefore got loss 0 and no gradient.
UNALIGNABLE_UTTERANCES = "unalignable_utterances"


def alignable(labels, label_length, frames):
  """``[B]`` bool: whether any CTC path emits the label in ``frames`` frames.

  A path needs one frame per character plus a blank between each pair of equal adjacent characters, so
  the condition is ``label_length + adjacent repeats <= frames``. labels: ``[B, L]`` int, label_length and
  frames: ``[B]`` int32.
  """
  valid = tf.sequence_mask(label_length, tf.shape(labels)[1])
  repeats = tf.logical_and(tf.equal(labels[:, 1:], labels[:, :-1]), valid[:, 1:])
  needed = tf.cast(label_length, tf.int32) + tf.reduce_sum(tf.cast(repeats, tf.int32), axis=1)
  return needed <= tf.cast(frames, tf.int32)


class CTCLoss(Loss):
  """Mean over the batch of per-utterance CTC losses on time-major logits; blank = last class.

  With ``mask_nan`` an utterance that cannot be aligned (see ``alignable``: a property of the
  data, whose loss TensorFlow reports as 0 or inf) gets loss 0 and no gradient and is counted in the graph
  collection ``UNALIGNABLE_UTTERANCES + "/" + mode``. A non-finite loss of an alignable utterance means the
  model diverged: it stays in the mean, so the training loop's non-finite guard sees it.
  """

  @staticmethod
  def get_optional_params():
    """Adds ``mask_nan``."""
    return {"mask_nan": Param(bool, True, "an utterance that cannot be aligned to its frames gets loss 0 and no "
                                          "gradient (and is counted) instead of TensorFlow's 0 or inf")}

  def __init__(self, params, model, name="ctc_loss"):
    super().__init__(params, model, name)
    self._mask_nan = self._params["mask_nan"]

  def compute_loss(self, input_dict):
    """Mean CTC loss over the batch of time-major logits ``[T', B, V+1]``; counts the unalignable utterances in a
    collection and, with ``mask_nan``, gives them loss 0."""
    logits = tf.cast(input_dict["decoder_output"]["logits"], tf.float32)
    src_length = input_dict["decoder_output"]["src_length"]
    labels, label_length = input_dict["target_tensors"]
    with tf.name_scope(self._name):
      per_utterance = ctc_loss(labels, label_length, logits, src_length)
      feasible = alignable(labels, label_length, src_length)
      mode = self._model.mode if self._model is not None else "train"
      tf.add_to_collection(UNALIGNABLE_UTTERANCES + "/" + mode,
                           tf.reduce_sum(tf.cast(tf.logical_not(feasible), tf.int32)))
      if self._mask_nan:
        per_utterance = tf.where(feasible, per_utterance, tf.zeros_like(per_utterance))
      return tf.reduce_mean(per_utterance)

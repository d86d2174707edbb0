"""The CTC loss kernel (kernels/ctc_loss.cc): built on first use, loaded, or declined.

TensorFlow's CTCLoss runs every log-sum-exp of the forward-backward recursion as one scalar call: on the main
job's batches (16 utterances of ~150-300 frames after the stride, labels of ~50 characters) it is about a tenth
of the training step. ``JasperCtcLoss`` computes the same loss and gradient (float32, log space) with each time
step's states vectorised; its comment lists the differences. Built, cached and loaded by utils/custom_ops.py;
``JASPER_CTC_KERNEL=0`` turns it off, and where it cannot be built the loss uses ``tf.nn.ctc_loss`` after one
line saying why.
"""
import os

import tensorflow.compat.v1 as tf

from open_seq2seq.utils.custom_ops import KernelLibrary

ENABLE_ENV = "JASPER_CTC_KERNEL"
LIBRARY = KernelLibrary("ctc_loss", os.path.join(os.path.dirname(os.path.abspath(__file__)), "kernels",
                                                 "ctc_loss.cc"),
                        ENABLE_ENV, "CTC loss kernel", "TensorFlow's CTCLoss")


def _dense_to_sparse(dense, lengths):
  """``[B, L]`` labels plus their lengths -> SparseTensor of the valid positions."""
  mask = tf.sequence_mask(lengths, tf.shape(dense)[1])
  indices = tf.where(mask)
  values = tf.gather_nd(dense, indices)
  return tf.SparseTensor(indices, values, tf.cast(tf.shape(dense), tf.int64))


def ctc_loss(labels, label_length, logits, sequence_length):
  """Per-utterance CTC loss ``[B]`` of time-major float32 logits ``[T, B, V]`` (blank = class V - 1) for dense
  labels ``[B, L]`` with ``label_length`` and ``sequence_length`` ``[B]``.

  What ``tf.nn.ctc_loss(..., preprocess_collapse_repeated=False, ctc_merge_repeated=True,
  ignore_longer_outputs_than_inputs=True, time_major=True)`` returns, from the kernel where it loads.
  Raises tf.errors.InvalidArgumentError at run time for a label outside [0, V - 2] or a length out of range.
  """
  ops = LIBRARY.ops()
  if ops is None:
    return tf.nn.ctc_loss(labels=_dense_to_sparse(labels, label_length), inputs=logits,
                          sequence_length=sequence_length, preprocess_collapse_repeated=False,
                          ctc_merge_repeated=True, ignore_longer_outputs_than_inputs=True, time_major=True)
  loss, _ = ops.jasper_ctc_loss(logits, tf.cast(labels, tf.int32), tf.cast(label_length, tf.int32),
                                tf.cast(sequence_length, tf.int32))
  return loss


@tf.RegisterGradient("JasperCtcLoss")
def _ctc_loss_grad(op, grad_loss, _):
  """d loss_b / d logits[t, b] is the op's second output; as TensorFlow's CTCLoss, no second derivative."""
  gradient = tf.raw_ops.PreventGradient(input=op.outputs[1], message="JasperCtcLoss has no second derivative")
  return [grad_loss[tf.newaxis, :, tf.newaxis] * gradient, None, None, None]

"""The gradient checks kernel (kernels/gradient_flags.cc): built on first use, loaded, or declined.

Every training step checks that the loss and the gradients are finite (optimize_loss skips the update
otherwise) and whether every gradient is exactly zero (NonFiniteLossHook stops a run that cannot learn). Op by
op these are two passes over all the gradients and about two hundred small ops (3-4 ms of the main job's
bfloat16 step); ``JasperGradientFlags`` tests each element's bits once for both. Built, cached and loaded by
utils/custom_ops.py; ``JASPER_GRADIENT_FLAGS=0`` turns it off, and where it cannot be built the checks use
IsFinite, Equal and All after one line saying why.
"""
import os

import tensorflow.compat.v1 as tf

from open_seq2seq.utils.custom_ops import KernelLibrary

ENABLE_ENV = "JASPER_GRADIENT_FLAGS"
LIBRARY = KernelLibrary("gradient_flags", os.path.join(os.path.dirname(os.path.abspath(__file__)), "kernels",
                                                       "gradient_flags.cc"),
                        ENABLE_ENV, "gradient checks kernel", "IsFinite, Equal and All")
DTYPES = (tf.float32, tf.bfloat16, tf.float16)


def gradient_flags(loss, gradients):
  """``(finite, all_zero)`` scalar bools: every element of ``loss`` and of ``gradients`` (dense tensors) is
  finite; every gradient element is 0. One kernel where it loads and the gradients are float32, bfloat16 or
  float16, else TensorFlow's ops (the same values)."""
  loss = tf.cast(loss, tf.float32)
  ops = LIBRARY.ops() if all(g.dtype.base_dtype in DTYPES for g in gradients) else None
  if ops is None:
    finite = tf.reduce_all([tf.reduce_all(tf.is_finite(loss))] + [tf.reduce_all(tf.is_finite(g)) for g in gradients])
    return finite, tf.reduce_all([tf.reduce_all(tf.equal(g, 0)) for g in gradients])
  return ops.jasper_gradient_flags(loss, gradients)

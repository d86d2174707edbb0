"""The masked ReLU kernel (kernels/masked_relu.cc): built on first use, loaded, or declined.

A Jasper sub-block ends in ReLU, and with ``use_conv_mask`` the next layer's input is that times the time mask:
op by op, four passes over ``[B, T, C]`` activations per layer and step (Relu, Mul, and back through Mul and
ReluGrad), in Eigen's bfloat16 arithmetic. ``JasperMaskedRelu`` and its gradient do one pass each, with the same
bits (its comment). Training graphs only: exported and evaluation graphs keep TensorFlow's ops. Built, cached and
loaded by utils/custom_ops.py; ``JASPER_MASKED_RELU=0`` turns it off, and where it cannot be built the encoder
uses Relu and Mul after one line saying why.
"""
import os

import tensorflow.compat.v1 as tf

from open_seq2seq.utils.custom_ops import KernelLibrary

ENABLE_ENV = "JASPER_MASKED_RELU"
LIBRARY = KernelLibrary("masked_relu", os.path.join(os.path.dirname(os.path.abspath(__file__)), "kernels",
                                                    "masked_relu.cc"),
                        ENABLE_ENV, "masked ReLU kernel", "Relu and Mul")
DTYPES = (tf.float32, tf.bfloat16)


def available(dtype):
  """True if activations of ``dtype`` can go through the kernel (float32 or bfloat16, and it loads)."""
  return tf.as_dtype(dtype) in DTYPES and LIBRARY.ops() is not None


def masked_relu(features, mask):
  """``relu(features) * mask`` for features ``[B, T, C]`` and a mask ``[B, T, 1]`` of 0s and 1s, as one kernel;
  bit for bit what ``tf.nn.relu(features) * mask`` gives. Needs ``available(features.dtype)``."""
  return LIBRARY.ops().jasper_masked_relu(features, mask)


@tf.RegisterGradient("JasperMaskedRelu")
def _masked_relu_grad(op, grad):
  """d/d features = grad * (activations > 0); the mask (from the lengths) gets none."""
  return [LIBRARY.ops().jasper_masked_relu_grad(grad, op.outputs[0]), None]

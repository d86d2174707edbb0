"""Model precision: the names a config or the command line gives a model's ``dtype``, and what each computes in.

- ``tf.float32`` / ``tf.float16``: the whole graph in that type.
- ``"mixed"`` (the reference's name): float16 forward and backward passes, float32 master copies of the
  weights updated by the optimizer, loss scaling (spec 5.5).
- ``"bfloat16"`` (also ``tf.bfloat16``): the same with bfloat16, whose float32-sized exponent needs no loss
  scaling; native on CPUs with AVX512-BF16/AMX.
"""
import tensorflow.compat.v1 as tf

# The reduced-precision type each mixed mode computes in.
MIXED_COMPUTE_DTYPES = {"mixed": tf.float16, "bfloat16": tf.bfloat16}
MIXED_DTYPES = tuple(MIXED_COMPUTE_DTYPES)
# Variable dtypes that get float32 master copies in the mixed modes.
REDUCED_PRECISION_DTYPES = (tf.float16, tf.bfloat16)
# What a model's (and a component's) ``dtype`` param accepts; canonical_dtype maps each to one spelling.
DTYPES = [tf.float32, tf.float16, tf.bfloat16, "mixed", "bfloat16", "float32", "float16"]


def is_mixed(dtype):
  """Whether ``dtype`` (canonical) is a mixed mode: reduced-precision compute with float32 master weights."""
  return isinstance(dtype, str) and dtype in MIXED_COMPUTE_DTYPES


def uses_loss_scaling(dtype):
  """Whether ``dtype`` (canonical) scales its loss: only float16's mixed mode, whose gradients underflow and
  overflow float16's narrow exponent; bfloat16 has float32's."""
  return dtype == "mixed"


def canonical_dtype(dtype):
  """One spelling per mode: ``tf.float32`` or ``tf.float16``, ``"mixed"`` or ``"bfloat16"`` (tf.bfloat16 and
  the name "bfloat16" are the bfloat16 mixed mode). Raises TypeError for a name TensorFlow does not know."""
  if is_mixed(dtype):
    return dtype
  dtype = tf.as_dtype(dtype)
  return "bfloat16" if dtype == tf.bfloat16 else dtype


def compute_dtype(dtype):
  """The TensorFlow dtype the layers compute in for a model ``dtype`` (any spelling of DTYPES)."""
  dtype = canonical_dtype(dtype)
  return MIXED_COMPUTE_DTYPES[dtype] if is_mixed(dtype) else dtype


def parse_dtype(text):
  """A model dtype from the command line: ``"mixed"``, or the TensorFlow dtype of a name (float32, bfloat16:
  tf.bfloat16, ...). Raises ValueError naming what is accepted."""
  if text == "mixed":
    return text
  try:
    return tf.as_dtype(text)
  except TypeError as error:
    raise ValueError("expected mixed or a dtype name such as float32 or bfloat16, got {!r}".format(text)) from error

"""Mixed-precision training: float16/bfloat16 forward and backward passes, float32 master weights.

``compute_gradients`` scales the loss, differentiates it with respect to the reduced-precision variables and
pairs each gradient (cast to float32 and unscaled) with a float32 master copy of its variable, created under
``FP32-master-copy/<variable name>`` (collection ``FP32_MASTER_COPIES``). ``apply_gradients`` updates the master
copies with the wrapped optimizer and then writes them back, rounded, into the reduced-precision variables (in the
same pass, where the wrapped optimizer fuses its update: NovoGrad's ``can_fuse``, fused_update.py).
With an automatic loss scaler, a step whose gradients hold a NaN or an Inf updates the scale and nothing
else: the weights, the optimizer slots and ``global_step`` stay as they were.
"""
import tensorflow.compat.v1 as tf

from open_seq2seq.optimizers.automatic_loss_scaler import AutomaticLossScaler
from open_seq2seq.optimizers.fused_update import can_fuse
from open_seq2seq.utils.precision import REDUCED_PRECISION_DTYPES

MASTER_COPIES_COLLECTION = "FP32_MASTER_COPIES"


def _scale_gradient(grad, factor):
  if grad is None:
    return None
  if isinstance(grad, tf.IndexedSlices):
    return tf.IndexedSlices(grad.values * tf.cast(factor, grad.dtype), grad.indices, grad.dense_shape)
  return grad * tf.cast(factor, grad.dtype)


def _cast_gradient(grad, dtype):
  if grad is None:
    return None
  if isinstance(grad, tf.IndexedSlices):
    return tf.IndexedSlices(tf.cast(grad.values, dtype), grad.indices, grad.dense_shape)
  return tf.cast(grad, dtype)


class MixedPrecisionOptimizerWrapper(tf.train.Optimizer):
  """Wraps ``optimizer``; ``loss_scale`` is None (no scaling), a float, or an ``AutomaticLossScaler``."""

  def __init__(self, optimizer, loss_scale=None):
    super().__init__(optimizer._use_locking, optimizer._name + "-MP")
    self._optimizer = optimizer
    self._scaler = loss_scale if isinstance(loss_scale, AutomaticLossScaler) else None
    if self._scaler is not None:
      self._loss_scale = self._scaler.loss_scale
    else:
      self._loss_scale = 1.0 if loss_scale is None else float(loss_scale)
    self._reduced_of_master = {}

  @property
  def loss_scale(self):
    """The loss scale: a float, or the automatic scaler's variable."""
    return self._loss_scale

  def compute_gradients(self, loss, var_list=None, **kwargs):
    """Gradients of the scaled ``loss``, unscaled, with float32 master copies in place of reduced-precision
    variables (their gradients cast to float32)."""
    unscaled = self._scaler is None and self._loss_scale == 1.0
    scaled_loss = loss if unscaled else loss * tf.cast(self._loss_scale, loss.dtype)
    grads_and_vars = self._optimizer.compute_gradients(scaled_loss, var_list=var_list, **kwargs)
    paired = []
    with tf.variable_scope("FP32-master-copy"):
      for grad, var in grads_and_vars:
        if var.dtype.base_dtype in REDUCED_PRECISION_DTYPES:
          master = tf.get_variable(var.op.name, initializer=tf.cast(var.initial_value, tf.float32),
                                   trainable=False,
                                   collections=[tf.GraphKeys.GLOBAL_VARIABLES, MASTER_COPIES_COLLECTION])
          self._reduced_of_master[master.op.name] = var
          paired.append((_cast_gradient(grad, tf.float32), master))
        else:
          paired.append((grad, var))
    if unscaled:
      return paired
    inverse_scale = 1.0 / tf.cast(self._loss_scale, tf.float32)
    return [(_scale_gradient(grad, inverse_scale), var) for grad, var in paired]

  def apply_gradients(self, grads_and_vars, global_step=None, name=None):
    """Applies the gradients to the master copies and copies them back to the reduced-precision variables; with
    automatic scaling, updates the scale and skips the step when the gradients are not finite."""
    grads_and_vars = list(grads_and_vars)

    fused = can_fuse(self._optimizer, grads_and_vars)

    def apply():
      """The wrapped optimizer's update followed by the write-back to the reduced-precision variables (or, fused,
      with it)."""
      if fused:
        return self._optimizer.apply_gradients(grads_and_vars, global_step=global_step, name=name,
                                               reduced_copies=dict(self._reduced_of_master))
      update = self._optimizer.apply_gradients(grads_and_vars, global_step=global_step, name=name)
      with tf.control_dependencies([update]):
        write_back = [self._reduced_of_master[var.op.name].assign(
            tf.saturate_cast(var, self._reduced_of_master[var.op.name].dtype.base_dtype))
                      for _, var in grads_and_vars if var.op.name in self._reduced_of_master]
        return tf.group(update, *write_back)

    if self._scaler is None:
      return apply()
    has_nan, amax = AutomaticLossScaler.check_grads(grads_and_vars)
    overflow = tf.logical_or(has_nan, tf.is_inf(amax))
    with tf.control_dependencies([self._scaler.update_op(has_nan, amax)]):
      return tf.cond(overflow, tf.no_op, apply, name="skip_non_finite_step")

"""Exponential moving average (EMA) of the weights, as DeepLearningExamples' Jasper (``--ema``) and NeMo keep it.

The model param ``ema_decay`` (> 0) turns it on. Training: ``MovingAverageOptimizer`` wraps the optimizer that
updates the float32 weights (the trainable variables, or in mixed precision their float32 master copies
``Loss_Optimization/FP32-master-copy/<var>``) and, after each of its updates, moves a shadow copy of every
variable it updated, ``shadow = decay * shadow + (1 - decay) * weight``, with tf.train.ExponentialMovingAverage
(or, where the wrapped NovoGrad fuses its update, fused_update.py, in the same kernel, with the same operations).
The shadows are named by TensorFlow's convention, ``<var>/ExponentialMovingAverage``, and are checkpointed
with the rest. Being part of the optimizer's update, the averaging is skipped with it: a step with non-finite
gradients and the accumulation runs of ``iter_size`` > 1 leave the shadows as they are. Batch-norm moving
statistics are not trained by the optimizer and keep their own averages.

The decay of the update that brings global_step to n is ``min(ema_decay, (1 + n) / (10 + n))``
(``num_updates=global_step``). DeepLearningExamples' Jasper uses the plain decay, which suits its long runs;
here the shadows start from the random initialisation and, with a plain 0.999, still hold 37 % of it after
1000 steps (0.999 ** 1000), so train_eval's first evaluations and short runs would score a model that is
partly noise. With num_updates the early average covers about the last tenth of the steps taken, and the
configured decay takes over once (1 + n) / (10 + n) exceeds it (n = 8990 for 0.999). The count resumes with
global_step, so a resumed run averages exactly as an uninterrupted one.

Using the averages: eval, infer and export restore each variable from its shadow
(``utils/checkpoint.build_restore_fn(use_ema=True)``); train_eval's eval model, which shares the training
graph's variables, reads the shadows through ``AveragedWeightsGetter``, so the training weights are never
swapped or touched.
"""
import tensorflow.compat.v1 as tf
from tensorflow.python.training import slot_creator

from open_seq2seq.optimizers.fused_update import can_fuse
from open_seq2seq.utils.checkpoint_fit import EMA_SUFFIX, source_name


def check_ema_decay(decay):
  """Raises ValueError unless 0 <= ``decay`` < 1 (0: no moving average)."""
  if not 0.0 <= decay < 1.0:
    raise ValueError("ema_decay must be in [0, 1) (0 turns the moving average off), got {}".format(decay))


class MovingAverageOptimizer(tf.train.Optimizer):
  """Applies ``optimizer``'s update, then moves the moving averages of the variables it updated (TF contrib's
  MovingAverageOptimizer with sequential updates). ``num_updates``: a step count (e.g. global_step, read after
  the update) that lowers the decay early, or None for a plain ``decay``."""

  def __init__(self, optimizer, decay, num_updates=None):
    check_ema_decay(decay)
    super().__init__(optimizer._use_locking, optimizer._name)
    self._optimizer = optimizer
    self._decay_value = decay
    self._num_updates = num_updates
    self._ema = tf.train.ExponentialMovingAverage(decay, num_updates=num_updates)

  @property
  def ema(self):
    """The tf.train.ExponentialMovingAverage of the variables."""
    return self._ema

  def compute_gradients(self, *args, **kwargs):
    """The wrapped optimizer's compute_gradients."""
    return self._optimizer.compute_gradients(*args, **kwargs)

  def can_fuse(self, grads_and_vars):
    """True if the wrapped optimizer can fuse its update with the moving averages (NovoGrad's ``can_fuse``)."""
    return can_fuse(self._optimizer, grads_and_vars)

  def apply_gradients(self, grads_and_vars, global_step=None, name=None, reduced_copies=None):
    """Applies the wrapped optimizer's update, then the moving averages of the updated variables; returns the op.
    Where ``can_fuse`` holds, both (and ``reduced_copies``, as NovoGrad takes them) are one fused update."""
    grads_and_vars = list(grads_and_vars)
    updated = [var for grad, var in grads_and_vars if grad is not None]
    if self.can_fuse(grads_and_vars):
      shadows = {var.op.name: self._shadow(var) for var in updated}
      return self._optimizer.apply_gradients(grads_and_vars, global_step=global_step, name=name,
                                             moving_averages=(self._decay(), shadows), reduced_copies=reduced_copies)
    if reduced_copies:
      raise ValueError("MovingAverageOptimizer: reduced_copies need the fused update (can_fuse)")
    update = self._optimizer.apply_gradients(grads_and_vars, global_step=global_step, name=name)
    with tf.control_dependencies([update]):
      # From the root variable scope, so each shadow is "<var>/ExponentialMovingAverage" (what
      # ExponentialMovingAverage.average_name and variables_to_restore assume), not under Loss_Optimization/.
      with tf.variable_scope(tf.VariableScope(reuse=None), auxiliary_name_scope=False):
        average = self._ema.apply(updated)
    return tf.group(update, average)

  def _shadow(self, var):
    """The moving average of ``var`` as ExponentialMovingAverage.apply creates it (same name, placement,
    initial value and collection), without its update ops."""
    with tf.variable_scope(tf.VariableScope(reuse=None), auxiliary_name_scope=False), tf.init_scope():
      with tf.device(var.device):
        initial = tf.cond(tf.is_variable_initialized(var), var.read_value, lambda: var.initial_value)
      shadow = slot_creator.create_slot(var, initial, self._ema.name, colocate_with_primary=True)
    tf.add_to_collection(tf.GraphKeys.MOVING_AVERAGE_VARIABLES, var)
    return shadow

  def _decay(self):
    """The decay of this update, as ExponentialMovingAverage computes it after the update that brings
    ``num_updates`` to n: min(decay, (1 + n) / (10 + n)); read before that update, so n is the value + 1."""
    if self._num_updates is None:
      return tf.constant(self._decay_value, tf.float32)
    updates = tf.cast(self._num_updates, tf.float32) + 1.0
    return tf.minimum(self._decay_value, (1.0 + updates) / (10.0 + updates))


class AveragedWeightsGetter:
  """Custom getter for a model that reuses the variables of the training graph built before it (train_eval's
  eval model): each variable whose value (the variable or its float32 master copy) has a moving average in the
  graph is replaced by that average, cast to the variable's dtype; others (batch-norm moving statistics) are
  returned as they are. ``averaged`` lists the names of the variables replaced."""

  def __init__(self, graph=None):
    graph = graph or tf.get_default_graph()
    self._variables = {var.op.name: var for var in graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES)}
    self._shapes = {name: var.shape.as_list() for name, var in self._variables.items()}
    self.averaged = []

  def __call__(self, getter, name, *args, **kwargs):
    var = getter(name, *args, **kwargs)
    source = source_name(var.op.name, var.shape.as_list(), self._shapes, use_ema=True)
    if source is None or not source.endswith(EMA_SUFFIX):
      return var
    self.averaged.append(var.op.name)
    average = self._variables[source]
    dtype = var.dtype.base_dtype
    return average if average.dtype.base_dtype == dtype else tf.saturate_cast(average, dtype)

  def describe(self):
    """One line saying which weights the model uses."""
    if self.averaged:
      return "Evaluating with the exponential moving averages of {} weights (ema_decay)".format(len(self.averaged))
    return "ema_decay is set, but the training graph keeps no moving averages: evaluating the raw weights"

"""Gradient pipeline: global step, learning rate, batch-norm updates, mixed precision and loss scaling,
gradient accumulation, reduction across workers, clipping / LARC, summaries and the optimizer step."""
import tensorflow.compat.v1 as tf

from open_seq2seq.optimizers.automatic_loss_scaler import AutomaticLossScaler
from open_seq2seq.optimizers.ema import MovingAverageOptimizer
from open_seq2seq.optimizers.gradient_flags import gradient_flags
from open_seq2seq.optimizers.mp_wrapper import MixedPrecisionOptimizerWrapper
from open_seq2seq.utils.params import Param, Range, check_params, signature_params, with_defaults
from open_seq2seq.utils.precision import is_mixed, uses_loss_scaling

OPTIMIZER_CLS_NAMES = {
    "Adagrad": tf.train.AdagradOptimizer,
    "Adam": tf.train.AdamOptimizer,
    "Ftrl": tf.train.FtrlOptimizer,
    "Momentum": tf.train.MomentumOptimizer,
    "RMSProp": tf.train.RMSPropOptimizer,
    "SGD": tf.train.GradientDescentOptimizer,
}

_UNIT_INTERVAL_OPEN_TOP = Range(float, low=0, high=1, high_inclusive=False)
_POSITIVE = Range(float, low=0, low_inclusive=False)
_NON_NEGATIVE = Range(float, low=0)
# Every optimizer argument a config may set in optimizer_params, whichever optimizer takes it; each optimizer's
# signature holds its defaults.
OPTIMIZER_PARAMS = {
    "beta1": Param(_UNIT_INTERVAL_OPEN_TOP, doc="decay of the moving average of the gradients (momentum)"),
    "beta2": Param(_UNIT_INTERVAL_OPEN_TOP, doc="decay of the moving average of the squared gradients"),
    "momentum": Param(_UNIT_INTERVAL_OPEN_TOP, doc="momentum"),
    "decay": Param(_UNIT_INTERVAL_OPEN_TOP, doc="decay of the moving average of the squared gradients"),
    "rho": Param(_UNIT_INTERVAL_OPEN_TOP, doc="decay of the moving averages (Adadelta)"),
    "epsilon": Param(_POSITIVE, doc="added to the denominator of the normalised gradient"),
    "weight_decay": Param(_NON_NEGATIVE, doc="factor of the weights added to the normalised gradient (L2 decay)"),
    "initial_accumulator_value": Param(_POSITIVE, doc="starting value of the accumulators"),
    "learning_rate_power": Param(Range(float, high=0), doc="power of the accumulator in the per-weight rate"),
    "l1_regularization_strength": Param(_NON_NEGATIVE, doc="L1 regularization strength"),
    "l2_regularization_strength": Param(_NON_NEGATIVE, doc="L2 regularization strength"),
    "l2_shrinkage_regularization_strength": Param(_NON_NEGATIVE, doc="L2 shrinkage regularization strength"),
    "beta": Param(_NON_NEGATIVE, doc="added to the accumulator's root in the per-weight rate"),
    "accum_name": Param(str, doc="name of the accumulator slot"),
    "linear_name": Param(str, doc="name of the linear slot"),
    "grad_averaging": Param(bool, doc="scale each moment update by 1 - beta1"),
    "ema_bug_compat": Param(bool, doc="the reference's second moment, which is never stored: v_t = ||g_t||^2 "
                                      "at every step"),
    "use_nesterov": Param(bool, doc="Nesterov momentum"),
    "centered": Param(bool, doc="normalise by the variance of the gradients instead of their second moment"),
    "use_locking": Param(bool, doc="lock the variables while they are updated"),
    "name": Param(str, doc="name of the optimizer's ops"),
}
LARC_PARAMS = {
    "larc_eta": Param(_POSITIVE, doc="trust coefficient: each layer's update is at most eta * ||w|| / ||g|| of "
                                     "the plain one"),
    "larc_mode": Param(["clip", "scale"], "clip", "clip: the trust ratio only lowers the learning rate; scale: the "
                                                  "gradient is multiplied by it"),
    "min_update": Param(_NON_NEGATIVE, 1e-7, "floor of the trust ratio"),
    "epsilon": Param(_POSITIVE, 1e-7, "added to ||g|| in the trust ratio"),
}


def optimizer_declarations(optimizer):
  """``(required, optional)`` declarations of the arguments of ``optimizer`` (a class) a config sets in
  ``optimizer_params``: specs and docs from ``OPTIMIZER_PARAMS``, defaults from its signature."""
  return signature_params(optimizer, OPTIMIZER_PARAMS, skip=("learning_rate",))


def check_optimizer_params(optimizer, optimizer_params, larc_params=None, owner="config"):
  """Raises ValueError naming ``optimizer_params/<key>`` (or ``larc_params/<key>``) for an argument the
  optimizer (a name of ``OPTIMIZER_CLS_NAMES`` or a class) does not take or a value outside its spec; the
  learning rate comes from the lr policy, never from optimizer_params."""
  if isinstance(optimizer, str):
    if optimizer not in OPTIMIZER_CLS_NAMES:
      raise ValueError("{}: optimizer '{}' is not one of {} (or an optimizer class)".format(
          owner, optimizer, sorted(OPTIMIZER_CLS_NAMES)))
    optimizer = OPTIMIZER_CLS_NAMES[optimizer]
  required, optional = optimizer_declarations(optimizer)
  # An argument without a default (MomentumOptimizer's momentum) is left for the constructor to demand.
  check_params(optimizer_params, {}, dict(required, **optional), "{} ({})".format(owner, optimizer.__name__),
               prefix="optimizer_params/")
  if larc_params is not None:
    check_params(larc_params, {"larc_eta": LARC_PARAMS["larc_eta"]}, LARC_PARAMS, owner, prefix="larc_params/")


SUMMARY_NAMES = ["learning_rate", "gradients", "gradient_norm", "global_gradient_norm", "variables",
                 "variable_norm", "larc_summaries", "loss_scale"]
DEFAULT_SUMMARIES = ["learning_rate", "global_gradient_norm", "loss_scale"]
# Graph collection holding the boolean "this step's loss or gradients were not all finite" (the step is
# skipped); absent under automatic loss scaling, where non-finite gradients are part of normal operation.
NONFINITE_GRADIENTS = "nonfinite_gradients"
# Graph collection holding the boolean "every gradient of this step is exactly 0": with a positive loss that
# means nothing can learn (a fixed loss_scaling that overflows or underflows the reduced-precision gradients).
ZERO_GRADIENTS = "zero_gradients"


def _float32_norm(tensor):
  values = tensor.values if isinstance(tensor, tf.IndexedSlices) else tensor
  return tf.norm(tf.cast(values, tf.float32))


def _global_norm_clip(grads_and_vars, clip_norm, summaries):
  norm = tf.linalg.global_norm([tf.cast(g, tf.float32) for g, _ in grads_and_vars])
  scale = clip_norm * tf.minimum(1.0 / norm, 1.0 / clip_norm)
  clipped = [(tf.cast(tf.cast(g, tf.float32) * scale, g.dtype), v) for g, v in grads_and_vars]
  if "global_gradient_norm" in summaries:
    tf.summary.scalar("global_clipped_gradient_norm", tf.linalg.global_norm([g for g, _ in clipped]))
  return clipped


def _larc(grads_and_vars, learning_rate, larc_params, summaries):
  """Layer-wise adaptive rate control: scales each gradient by a trust ratio (``clip`` or ``scale`` mode)."""
  larc_params = with_defaults(larc_params, LARC_PARAMS)
  eta = larc_params["larc_eta"]
  mode = larc_params["larc_mode"]
  if mode not in ("clip", "scale"):
    raise ValueError("larc_params['larc_mode'] must be 'clip' or 'scale', got {!r}".format(mode))
  min_update = larc_params["min_update"]
  epsilon = larc_params["epsilon"]
  scaled = []
  for grad, var in grads_and_vars:
    var_norm = _float32_norm(var)
    grad_norm = _float32_norm(grad)
    if mode == "clip":
      ratio = tf.minimum(tf.maximum(eta * var_norm / (learning_rate * (grad_norm + epsilon)), min_update), 1.0)
      if "larc_summaries" in summaries:
        tf.summary.scalar("larc_clip_on/{}".format(var.op.name), tf.cast(tf.less(ratio, 1.0), tf.int32))
    else:
      ratio = tf.maximum(eta * var_norm / (grad_norm + epsilon), min_update)
    if "larc_summaries" in summaries:
      tf.summary.scalar("larc_grad_update/{}".format(var.op.name), ratio)
      tf.summary.scalar("larc_final_lr/{}".format(var.op.name), tf.cast(learning_rate, tf.float32) * ratio)
    scaled.append((tf.saturate_cast(ratio, var.dtype.base_dtype) * grad, var))
  return scaled


def post_process_gradients(grads_and_vars, summaries, learning_rate, clip_gradients, larc_params):
  """Summaries, global-norm clipping and LARC, in the reference's order."""
  if "global_gradient_norm" in summaries:
    tf.summary.scalar("global_gradient_norm",
                      tf.linalg.global_norm([tf.cast(g, tf.float32) for g, _ in grads_and_vars]))
  if clip_gradients is not None:
    grads_and_vars = _global_norm_clip(grads_and_vars, clip_gradients, summaries)
  for grad, var in grads_and_vars:
    name = var.name.replace(":", "_")
    if "gradients" in summaries:
      values = grad.values if isinstance(grad, tf.IndexedSlices) else grad
      finite = tf.where(tf.is_finite(values), values, tf.zeros_like(values))
      tf.summary.histogram("gradients/" + name, finite)
    if "gradient_norm" in summaries:
      tf.summary.scalar("gradient_norm/" + name, _float32_norm(grad))
    if "variables" in summaries:
      tf.summary.histogram("variables/" + name, var)
    if "variable_norm" in summaries:
      tf.summary.scalar("variable_norm/" + name, _float32_norm(var))
  if larc_params is not None:
    grads_and_vars = _larc(grads_and_vars, learning_rate, larc_params, summaries)
  return grads_and_vars


def _accumulate(grads_and_vars, iter_size):
  """Adds ``g / iter_size`` to a float32 accumulator per variable; returns the accumulated gradients
  (read after this micro-batch's addition) and the accumulators."""
  accumulated, accumulators = [], []
  for grad, var in grads_and_vars:
    accumulator = tf.get_variable("{}_accum".format(var.op.name), shape=var.shape, dtype=tf.float32,
                                  initializer=tf.zeros_initializer(), trainable=False)
    share = tf.cast(grad.values if isinstance(grad, tf.IndexedSlices) else grad, tf.float32) / iter_size
    if isinstance(grad, tf.IndexedSlices):
      added = accumulator.scatter_add(tf.IndexedSlices(share, grad.indices, grad.dense_shape))
    else:
      added = accumulator.assign_add(share)
    accumulated.append((tf.cast(tf.convert_to_tensor(added), var.dtype.base_dtype), var))
    accumulators.append(accumulator)
  return accumulated, accumulators


def _skipping_non_finite(opt, grads_and_vars, finite, global_step, automatic_scaling):
  """The function building the update: a step whose loss or gradients hold a NaN or an Inf (``finite`` False)
  leaves the weights, the optimizer state and global_step unchanged, so a diverging step never reaches a
  checkpoint. (The automatic loss scaler's wrapper already skips steps with such gradients and adjusts its scale;
  a non-finite loss there is left to the training loop's guard, since rescaling cannot repair it.)"""
  if automatic_scaling:
    return lambda: opt.apply_gradients(grads_and_vars, global_step=global_step)
  tf.add_to_collection(NONFINITE_GRADIENTS, tf.logical_not(finite))
  return lambda: tf.cond(finite, lambda: opt.apply_gradients(grads_and_vars, global_step=global_step), tf.no_op,
                         name="skip_non_finite_step")


def optimize_loss(loss, optimizer, optimizer_params, learning_rate_decay_fn, var_list=None, dtype=tf.float32,
                  clip_gradients=None, summaries=None, larc_params=None, loss_scaling=1.0,
                  loss_scaling_params=None, iter_size=1, skip_update_ph=None, reduce_gradients=None,
                  wrap_optimizer=None, ema_decay=None):
  """Builds the train op; fetching it runs one step and returns the pre-update loss.

  dtype "mixed" (float16) or "bfloat16": gradients of reduced-precision variables update float32 master
  copies (``loss_scaling``: a float, "Backoff" or "LogMax", applied in float16 only; a name builds the scaler
  in every dtype, as the reference does, so its state is in every training checkpoint).
  ``iter_size`` > 1: each run adds its gradients / iter_size to accumulators and the update happens only on runs where
  ``skip_update_ph`` is False, from the accumulated gradients, which are then cleared. ``reduce_gradients``
  (e.g. an all-reduce across workers) maps the list of gradients before post-processing; ``wrap_optimizer``
  wraps the (mixed-precision) optimizer, e.g. with one that all-reduces inside compute_gradients. ``ema_decay``
  (None or 0: off): after each update, moves the exponential moving averages
  ``<var>/ExponentialMovingAverage`` of the float32 variables the optimizer updated (ema.py), never on a
  skipped step.
  """
  summaries = summaries if summaries is not None else DEFAULT_SUMMARIES
  for name in summaries:
    if name not in SUMMARY_NAMES:
      raise ValueError("Unknown summary '{}'; expected some of {}".format(name, SUMMARY_NAMES))
  if clip_gradients is not None and larc_params is not None:
    raise AttributeError("LARC and gradient norm clipping should not be used together")
  if iter_size > 1 and skip_update_ph is None:
    raise ValueError("iter_size={} needs skip_update_ph to tell accumulation runs from update runs".format(iter_size))
  global_step = tf.train.get_or_create_global_step()
  learning_rate = learning_rate_decay_fn(global_step)
  if "learning_rate" in summaries:
    # The schedule's op is itself named "learning_rate"; a raw summary keeps that tag (not "learning_rate_1").
    tf.add_to_collection(tf.GraphKeys.SUMMARIES, tf.raw_ops.ScalarSummary(tags="learning_rate", values=learning_rate))
  with tf.variable_scope("Loss_Optimization"):
    update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    with tf.control_dependencies(update_ops):
      loss = tf.identity(loss)
    if isinstance(optimizer, str):
      if optimizer not in OPTIMIZER_CLS_NAMES:
        raise ValueError("Optimizer name '{}' is not one of {}".format(optimizer, sorted(OPTIMIZER_CLS_NAMES)))
      optimizer = OPTIMIZER_CLS_NAMES[optimizer]
    opt = optimizer(learning_rate=learning_rate, **optimizer_params)
    if ema_decay:
      # Innermost, so the averaging runs inside every skip condition and sees the float32 master copies.
      opt = MovingAverageOptimizer(opt, ema_decay, num_updates=global_step)
    if isinstance(loss_scaling, str):
      # Built whatever the dtype, as the reference does: its state variables are part of every training
      # checkpoint (Loss_Optimization/Variable, Variable_1, ...), so float32 checkpoints restore into the
      # reference's float32 training graph and back. Outside float16's mixed mode the scaler is never updated.
      loss_scaling = AutomaticLossScaler(algorithm=loss_scaling, params=loss_scaling_params)
      if "loss_scale" in summaries:
        tf.summary.scalar("loss_scale", loss_scaling.loss_scale)
    if is_mixed(dtype):
      # bfloat16 is not scaled: a power-of-two scale would change none of its values, and checking its gradients
      # for the scaler cost two passes over them per step.
      opt = MixedPrecisionOptimizerWrapper(opt, loss_scale=loss_scaling if uses_loss_scaling(dtype) else None)
    if wrap_optimizer is not None:
      opt = wrap_optimizer(opt)
    grads_and_vars = opt.compute_gradients(loss, var_list=var_list, colocate_gradients_with_ops=True)
    grads_and_vars = [(g, v) for g, v in grads_and_vars if g is not None]
    if iter_size > 1:
      grads_and_vars, accumulators = _accumulate(grads_and_vars, iter_size)
    if reduce_gradients is not None:
      reduced = reduce_gradients([g for g, _ in grads_and_vars])
      grads_and_vars = list(zip(reduced, [v for _, v in grads_and_vars]))
    grads_and_vars = post_process_gradients(grads_and_vars, summaries, learning_rate, clip_gradients, larc_params)
    with tf.name_scope("check_gradients"):
      # A diverged loss can come with finite (e.g. zero) gradients, which must not be applied either.
      finite, all_zero = gradient_flags(loss, [g.values if isinstance(g, tf.IndexedSlices) else g
                                               for g, _ in grads_and_vars])
    tf.add_to_collection(ZERO_GRADIENTS, all_zero)
    apply = _skipping_non_finite(opt, grads_and_vars, finite, global_step, automatic_scaling=(
        uses_loss_scaling(dtype) and isinstance(loss_scaling, AutomaticLossScaler)))
    if iter_size > 1:

      def update_and_clear():
        """Applies the accumulated gradients, then zeroes the accumulators."""
        update = apply()
        with tf.control_dependencies([update]):
          return tf.group(*[accumulator.assign(tf.zeros_like(accumulator)) for accumulator in accumulators])

      accumulation = tf.group(*[g for g, _ in grads_and_vars])
      with tf.control_dependencies([accumulation]):
        update_op = tf.cond(skip_update_ph, tf.no_op, update_and_clear, name="accumulate_or_update")
    else:
      update_op = apply()
    with tf.control_dependencies([update_op]):
      train_op = tf.identity(loss)
  return train_op, learning_rate

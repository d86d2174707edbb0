"""Learning-rate policies: functions of the global step returning a scalar tensor named ``learning_rate``.

Every decaying policy ramps linearly from 0 during its first ``warmup_steps`` (the peak rate ``lr0`` is
replaced by ``lr0 * s / warmup_steps``) and keeps that rate until ``begin_decay_at``; ``s' = s - begin_decay_at``
is the step its decay formula sees. When a policy's signature has ``decay_steps`` the model fills it (and
``begin_decay_at``) from the run length unless the config sets them.
"""
import inspect
import math

import tensorflow.compat.v1 as tf

from open_seq2seq.utils.params import ListOf, Range, check_params

_POSITIVE = Range(float, low=0, low_inclusive=False)
_NON_NEGATIVE = Range(float, low=0)
# The spec of every lr policy argument a config may set, whichever policy takes it.
LR_POLICY_PARAMS = {
    "learning_rate": _POSITIVE,
    "decay_steps": Range(int, low=1),
    "begin_decay_at": Range(int, low=0),
    "warmup_steps": Range(int, low=0),
    "power": _NON_NEGATIVE,
    "min_lr": _NON_NEGATIVE,
    "decay_rate": _POSITIVE,
    "use_staircase_decay": bool,
    "boundaries": ListOf(_NON_NEGATIVE),
    "decay_rates": ListOf(_NON_NEGATIVE),
    "steps_per_epoch": Range(int, low=1),
    "d_model": _POSITIVE,
    "max_lr": _POSITIVE,
    "coefficient": _POSITIVE,
}
# Filled in by the model from the run's length when the config leaves them out.
FILLED_BY_MODEL = ("decay_steps", "begin_decay_at", "steps_per_epoch")


def check_lr_policy_params(lr_policy, lr_policy_params, owner="config"):
  """Raises ValueError naming ``lr_policy_params/<key>`` for a key ``lr_policy`` does not take, a missing
  argument or a value outside ``LR_POLICY_PARAMS``."""
  signature = inspect.signature(lr_policy).parameters
  names = [name for name in signature if name != "global_step"]
  required = {name: LR_POLICY_PARAMS.get(name) for name in names
              if signature[name].default is inspect.Parameter.empty and name not in FILLED_BY_MODEL}
  optional = {name: LR_POLICY_PARAMS.get(name) for name in names if name not in required}
  policy_name = getattr(lr_policy, "__name__", "lr_policy")
  check_params(lr_policy_params, required, optional, "{} ({})".format(owner, policy_name), prefix="lr_policy_params/")
  floor, start = lr_policy_params.get("min_lr"), lr_policy_params.get("learning_rate")
  if floor is not None and start is not None and floor > start:
    # The decay would climb from learning_rate up to min_lr: a swapped pair or a missing minus in an exponent.
    raise ValueError("{} ({}): parameter 'lr_policy_params/min_lr' is {!r}, expected <= lr_policy_params/"
                     "learning_rate ({!r})".format(owner, policy_name, floor, start))


def _require_positive(name, value):
  if value <= 0:
    raise ValueError("{} must be > 0, got {!r}".format(name, value))


def _require_non_negative(name, value):
  if value < 0:
    raise ValueError("{} must be >= 0, got {!r}".format(name, value))


def _warmup(learning_rate, global_step, warmup_steps):
  """``learning_rate * s / warmup_steps`` for ``s < warmup_steps``, else ``learning_rate``."""
  _require_non_negative("warmup_steps", warmup_steps)
  if not warmup_steps:
    return tf.constant(learning_rate, tf.float32)
  step = tf.cast(global_step, tf.float32)
  return tf.where(step < warmup_steps, learning_rate * step / float(warmup_steps),
                  tf.constant(learning_rate, tf.float32))


def _check_decay_schedule(decay_steps, begin_decay_at):
  # A run no longer than its warm-up gets decay_steps <= 0 filled in by the model; say so plainly.
  if decay_steps <= 0:
    raise ValueError("decay_steps must be > 0, got {!r} (when filled in automatically it is the last step "
                     "minus begin_decay_at, which is at least warmup_steps)".format(decay_steps))
  _require_non_negative("begin_decay_at", begin_decay_at)


def _steps_since_decay_began(global_step, begin_decay_at):
  return tf.maximum(tf.cast(global_step, tf.float32) - float(begin_decay_at), 0.0)


def _before_decay_else(global_step, begin_decay_at, before, decayed):
  return tf.where(tf.cast(global_step, tf.float32) < begin_decay_at, before, decayed, name="learning_rate")


def poly_decay(global_step, learning_rate, decay_steps, power=1.0, begin_decay_at=0, min_lr=0.0,
               warmup_steps=0):
  """``(lr0 - min_lr) * (1 - min(s', D) / D) ** power + min_lr`` with ``s' = s - begin_decay_at``.

  Before ``begin_decay_at`` the rate is constant; during the first ``warmup_steps`` it ramps linearly
  from 0. ``decay_steps`` D defaults to the run's last step (set by the model).
  """
  base = _warmup(learning_rate, global_step, warmup_steps)
  decay_step = tf.minimum(_steps_since_decay_began(global_step, begin_decay_at), float(decay_steps))
  decayed = (base - min_lr) * tf.pow(1.0 - decay_step / float(decay_steps), power) + min_lr
  return _before_decay_else(global_step, begin_decay_at, base, decayed)


def cosine_decay(global_step, learning_rate, decay_steps, power=1.0, begin_decay_at=0, min_lr=0.0,
                 warmup_steps=0):
  """``lr0 * ((1 - min_lr) * 0.5 * (1 + cos(pi * min(s', D) / D)) + min_lr)`` (TF ``cosine_decay``).

  As in the reference, ``min_lr`` is the final rate as a *fraction* of ``lr0`` (TF's ``alpha``), not an
  absolute floor.
  """
  del power  # accepted so that configs written for the reference keep working; the cosine has no power
  _check_decay_schedule(decay_steps, begin_decay_at)
  if not 0.0 <= min_lr <= 1.0:
    raise ValueError("cosine_decay: min_lr is a fraction of learning_rate and must be in [0, 1], got {!r}"
                     .format(min_lr))
  base = _warmup(learning_rate, global_step, warmup_steps)
  progress = tf.minimum(_steps_since_decay_began(global_step, begin_decay_at), float(decay_steps)) / decay_steps
  cosine = 0.5 * (1.0 + tf.cos(math.pi * progress))
  decayed = base * ((1.0 - min_lr) * cosine + min_lr)
  return _before_decay_else(global_step, begin_decay_at, base, decayed)


def exp_decay(global_step, learning_rate, decay_steps, decay_rate, use_staircase_decay, begin_decay_at=0,
              min_lr=0.0, warmup_steps=0):
  """``max(min_lr, lr0 * decay_rate ** (s' / D))``, the exponent floored when ``use_staircase_decay``."""
  _check_decay_schedule(decay_steps, begin_decay_at)
  _require_positive("decay_rate", decay_rate)
  base = _warmup(learning_rate, global_step, warmup_steps)
  exponent = _steps_since_decay_began(global_step, begin_decay_at) / decay_steps
  if use_staircase_decay:
    exponent = tf.floor(exponent)
  decayed = tf.maximum(base * tf.pow(float(decay_rate), exponent), min_lr)
  return _before_decay_else(global_step, begin_decay_at, base, decayed)


def piecewise_constant(global_step, learning_rate, boundaries, decay_rates, steps_per_epoch=None,
                       warmup_steps=0):
  """``lr0 * d`` for ``d`` in ``[1.0] + decay_rates``; the i-th rate applies once ``s > boundaries[i]``.

  ``boundaries`` are epochs when ``steps_per_epoch`` is given (the model sets it when training by
  epochs), steps otherwise; ``warmup_steps`` is always in steps. A step equal to a boundary still gets
  the previous rate, as with TF's ``piecewise_constant``.
  """
  if len(decay_rates) != len(boundaries):
    raise ValueError("piecewise_constant needs one decay rate per boundary, got {} boundaries and {} decay_rates"
                     .format(len(boundaries), len(decay_rates)))
  if any(later <= earlier for earlier, later in zip(boundaries, boundaries[1:])):
    raise ValueError("piecewise_constant boundaries must be strictly increasing, got {}".format(list(boundaries)))
  if steps_per_epoch is not None:
    _require_positive("steps_per_epoch", steps_per_epoch)
    boundaries = [epoch * steps_per_epoch for epoch in boundaries]
  base = _warmup(learning_rate, global_step, warmup_steps)
  # float64 keeps step-to-boundary comparisons exact far beyond float32's 2**24 steps.
  step = tf.cast(global_step, tf.float64)
  boundaries_passed = tf.reduce_sum(tf.cast(step > tf.constant(boundaries, tf.float64), tf.int32))
  rate = tf.gather(tf.constant([1.0] + list(decay_rates), tf.float32), boundaries_passed)
  return tf.multiply(base, rate, name="learning_rate")


def inv_poly_decay(global_step, learning_rate, decay_steps, min_lr, power=1.0, begin_decay_at=0, warmup_steps=0):
  """``lr0 / (1 + c * s') ** power`` with ``c = ((lr0 / min_lr) ** (1 / power) - 1) / D``.

  The rate reaches ``min_lr`` at ``s' = D`` and keeps falling after it. ``min_lr`` below 1e-8 (0 included)
  is raised to 1e-8, as in the reference, since ``c`` is infinite at 0.
  """
  _check_decay_schedule(decay_steps, begin_decay_at)
  _require_positive("power", power)
  if not 0.0 <= min_lr <= learning_rate:
    raise ValueError("inv_poly_decay: min_lr must be in [0, learning_rate={!r}], got {!r}".format(
        learning_rate, min_lr))
  min_lr = max(min_lr, 1e-8)
  rate_of_decay = (math.pow(learning_rate / min_lr, 1.0 / power) - 1.0) / decay_steps
  base = _warmup(learning_rate, global_step, warmup_steps)
  decayed = base / tf.pow(1.0 + rate_of_decay * _steps_since_decay_began(global_step, begin_decay_at), power)
  return _before_decay_else(global_step, begin_decay_at, base, decayed)


def transformer_policy(global_step, learning_rate, d_model, warmup_steps, max_lr=None, coefficient=1.0):
  """"Noam" schedule: ``lr0 * coefficient * d_model ** -0.5 * min((s + 1) * ws ** -1.5, (s + 1) ** -0.5)``.

  Its own warm-up is already linear (peaking at ``s + 1 = warmup_steps``); ``max_lr`` caps the rate.
  """
  _require_positive("d_model", d_model)
  _require_positive("warmup_steps", warmup_steps)
  if max_lr is not None:
    _require_positive("max_lr", max_lr)
  step = tf.cast(global_step, tf.float32) + 1.0
  scale = learning_rate * coefficient * d_model ** -0.5
  lr = scale * tf.minimum(step * float(warmup_steps) ** -1.5, tf.math.rsqrt(step))
  if max_lr is None:
    return tf.identity(lr, name="learning_rate")
  return tf.minimum(lr, float(max_lr), name="learning_rate")


def fixed_lr(global_step, learning_rate):
  del global_step
  return tf.constant(learning_rate, tf.float32, name="learning_rate")

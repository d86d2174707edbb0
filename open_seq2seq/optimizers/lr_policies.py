"""Learning-rate policies: functions of the global step returning a scalar tensor named ``learning_rate``.

Every decaying policy ramps linearly from 0 during its first ``warmup_steps`` (the peak rate ``lr0`` is
replaced by ``lr0 * s / warmup_steps``) and keeps that rate until ``begin_decay_at``; ``s' = s - begin_decay_at``
is the step its decay formula sees. When a policy's signature has ``decay_steps`` the model fills it (and
``begin_decay_at``) from the run length unless the config sets them.
"""
import math

import tensorflow.compat.v1 as tf

from open_seq2seq.utils.params import Inert, ListOf, Param, Range, check_params, signature_params

_POSITIVE = Range(float, low=0, low_inclusive=False)
_NON_NEGATIVE = Range(float, low=0)
# Every lr policy argument a config may set, whichever policy takes it; each policy's signature holds its defaults.
LR_POLICY_PARAMS = {
    "learning_rate": Param(_POSITIVE, doc="peak rate lr0, reached at the end of the warm-up"),
    "decay_steps": Param(Range(int, low=1), doc="steps D over which the rate decays; None: filled in by the model "
                                               "as the last step minus begin_decay_at"),
    "begin_decay_at": Param(Range(int, low=0), doc="step where the decay starts (constant rate before); the model "
                                                   "raises it to warmup_steps when it fills decay_steps"),
    "warmup_steps": Param(Range(int, low=0), doc="steps of the linear ramp from 0 to lr0"),
    "power": Param(_NON_NEGATIVE, doc="exponent of the decay"),
    "min_lr": Param(_NON_NEGATIVE, doc="floor of the rate (cosine_decay: a fraction of lr0)"),
    "decay_rate": Param(_POSITIVE, doc="factor of the rate per decay_steps"),
    "use_staircase_decay": Param(bool, doc="decay in whole multiples of decay_steps"),
    "boundaries": Param(ListOf(_NON_NEGATIVE), doc="epochs (with steps_per_epoch) or steps after which the next "
                                                   "decay rate applies"),
    "decay_rates": Param(ListOf(_NON_NEGATIVE), doc="factors of lr0, one per boundary"),
    "steps_per_epoch": Param(Range(int, low=1), doc="steps per epoch, for epoch boundaries; filled in by the model "
                                                    "when training by epochs"),
    "d_model": Param(_POSITIVE, doc="model width; the rate scales with its -0.5 power"),
    "max_lr": Param(_POSITIVE, doc="cap of the rate; None: none"),
    "coefficient": Param(_POSITIVE, doc="factor of the rate"),
}
# Filled in by the model from the run's length when the config leaves them out.
FILLED_BY_MODEL = ("decay_steps", "begin_decay_at", "steps_per_epoch")
# Arguments a policy takes only so that the reference's configs keep working: policy name -> {argument: reason}.
INERT_ARGUMENTS = {"cosine_decay": {"power": "the cosine schedule has no power"}}


def policy_declarations(lr_policy):
  """``(required, optional)`` declarations of ``lr_policy``'s arguments: specs and docs from ``LR_POLICY_PARAMS``,
  defaults from its signature; an argument the model fills in is optional, with default None; one the policy
  ignores is ``Inert``."""
  required, optional = signature_params(lr_policy, LR_POLICY_PARAMS, skip=("global_step",))
  for name in FILLED_BY_MODEL:
    if name in required:
      optional[name] = required.pop(name).with_default(None)
  for name, reason in INERT_ARGUMENTS.get(getattr(lr_policy, "__name__", None), {}).items():
    optional[name] = Inert(optional[name].spec, reason)
  return required, optional


def check_lr_policy_params(lr_policy, lr_policy_params, owner="config"):
  """Raises ValueError naming ``lr_policy_params/<key>`` for a key ``lr_policy`` does not take, a missing
  argument or a value outside ``LR_POLICY_PARAMS``."""
  required, optional = policy_declarations(lr_policy)
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
  del power  # accepted so that configs written for the reference keep working (INERT_ARGUMENTS)
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
  """Constant ``learning_rate`` (float32), whatever ``global_step``."""
  del global_step
  return tf.constant(learning_rate, tf.float32, name="learning_rate")

"""Automatic loss scaling for float16 training: a loss scale that follows gradient overflows (spec 5.6).

The state lives in non-trainable global variables, so checkpoints carry it and a resumed run continues
where it stopped. They keep the reference's names (``Variable``, ``Variable_1``, ... in its creation order,
in the scope the scaler is built in: ``Loss_Optimization``), so reference checkpoints restore; each
algorithm's ``STATE_NAMES`` maps its state to those names.
"""
import tensorflow.compat.v1 as tf

from open_seq2seq.utils.params import Param, Range, check_params, with_defaults

_POSITIVE = Range(float, low=0, low_inclusive=False)
_OPEN_UNIT_INTERVAL = Range(float, low=0, high=1, low_inclusive=False, high_inclusive=False)
_SCALE_MIN = Param(_POSITIVE, 1.0, "lowest loss scale")
_SCALE_MAX = Param(_POSITIVE, 2.0 ** 14, "highest loss scale")


def _settings(params, declarations):
  """``params`` after checking their names and types, None entries and absent ones replaced by the declared
  defaults."""
  check_params(params, {}, declarations, owner="AutomaticLossScaler", prefix="loss_scaling_params/")
  settings = with_defaults({key: value for key, value in params.items() if value is not None}, declarations)
  if not 0 < settings["scale_min"] <= settings["scale_max"]:
    raise ValueError("loss_scaling_params: need 0 < scale_min <= scale_max, got scale_min={!r}, scale_max={!r}"
                     .format(settings["scale_min"], settings["scale_max"]))
  return settings


# Graph collection of every scaler's state variables (train.py: float32 checkpoints written before the
# scaler was built in float32 lack them).
STATE_COLLECTION = "automatic_loss_scaler_state"


def _state_variables(state_names, specs):
  """Creates the state in ``state_names`` order; ``specs`` maps each state to (initial value, dtype)."""
  state = {}
  for key, name in state_names.items():
    initial_value, dtype = specs[key]
    state[key] = tf.get_variable(name, shape=[], dtype=dtype, initializer=tf.constant_initializer(initial_value),
                                 trainable=False)
    tf.add_to_collection(STATE_COLLECTION, state[key])
  return state


def _is_overflow(has_nan, amax):
  return tf.logical_or(has_nan, tf.is_inf(amax))


class BackoffScaler:
  """Starts at ``scale_max``; an overflow divides the scale by ``step_factor``, and every ``step_window``
  iterations counted from the last overflow multiply it by ``step_factor``; always clipped to
  ``[scale_min, scale_max]``.
  """
  PARAMS = {
      "scale_min": _SCALE_MIN,
      "scale_max": _SCALE_MAX,
      "step_factor": Param(_POSITIVE, 2.0, "an overflow divides the scale by it, a window without one multiplies "
                                           "it"),
      "step_window": Param(Range(int, low=1), 2000, "iterations after the last overflow between increases"),
  }
  STATE_NAMES = {"iteration": "Variable", "last_overflow_iteration": "Variable_1", "scale": "Variable_2"}

  def __init__(self, params):
    settings = _settings(params, self.PARAMS)
    self._scale_min = float(settings["scale_min"])
    self._scale_max = float(settings["scale_max"])
    self._step_factor = float(settings["step_factor"])
    self._step_window = int(settings["step_window"])
    state = _state_variables(self.STATE_NAMES, {"iteration": (0, tf.int64), "last_overflow_iteration": (-1, tf.int64),
                                                "scale": (self._scale_max, tf.float32)})
    self.scale = state["scale"]
    self._iteration = state["iteration"]
    self._last_overflow_iteration = state["last_overflow_iteration"]

  def update_op(self, has_nan, amax):
    """Op that updates the scale after a step with ``has_nan`` / ``amax`` (maximum gradient magnitude) and
    counts the iteration."""
    iteration = self._iteration.read_value()
    last_overflow = self._last_overflow_iteration.read_value()
    scale = self.scale.read_value()
    overflow = _is_overflow(has_nan, amax)
    window_done = tf.equal(tf.floormod(iteration - last_overflow, self._step_window), 0)
    new_scale = tf.clip_by_value(
        tf.where(overflow, scale / self._step_factor,
                 tf.where(window_done, scale * self._step_factor, scale)),
        self._scale_min, self._scale_max)
    new_last_overflow = tf.where(overflow, iteration, last_overflow)
    # Every read above must see the state before this update, including the iteration read that the
    # reference left unordered against its own increment.
    with tf.control_dependencies([new_scale, new_last_overflow]):
      assignments = [self.scale.assign(new_scale, read_value=False),
                     self._last_overflow_iteration.assign(new_last_overflow, read_value=False)]
    with tf.control_dependencies(assignments):
      return self._iteration.assign_add(1, read_value=False)


class LogMaxScaler:
  """Tracks the mean and spread of ``log2(amax)`` with bias-corrected moving averages (``beta1`` for the
  mean, ``beta2`` for the spread) and picks ``2**(16 - (mean + overflow_std_dev * std))``, clipped to
  ``[scale_min, scale_max]``. ``amax`` is measured on unscaled gradients.
  """
  PARAMS = {
      "scale_min": _SCALE_MIN,
      "scale_max": _SCALE_MAX,
      "log_max": Param(_POSITIVE, 16.0, "log2 of the value an overflow feeds into the averages"),
      "beta1": Param(_OPEN_UNIT_INTERVAL, 0.99, "decay of the moving mean of log2(amax)"),
      "beta2": Param(_OPEN_UNIT_INTERVAL, 0.999, "decay of the moving spread of log2(amax)"),
      "overflow_std_dev": Param(Range(float, low=0), 3.09, "standard deviations of headroom below float16's "
                                                           "range (3.09: the 99.9 % quantile)"),
  }
  STATE_NAMES = {"iteration": "Variable", "scale": "Variable_1", "x_hat": "Variable_2", "slow_x_hat": "Variable_3",
                 "xsquared_hat": "Variable_4", "b1_correction": "Variable_5", "b2_correction": "Variable_6"}

  def __init__(self, params):
    settings = _settings(params, self.PARAMS)
    self._scale_min = float(settings["scale_min"])
    self._scale_max = float(settings["scale_max"])
    self._log_max = float(settings["log_max"])
    self._beta1 = float(settings["beta1"])
    self._beta2 = float(settings["beta2"])
    self._overflow_std_dev = float(settings["overflow_std_dev"])
    state = _state_variables(self.STATE_NAMES, {
        "iteration": (0, tf.int64), "scale": (1.0, tf.float32), "x_hat": (0.0, tf.float32),
        "slow_x_hat": (0.0, tf.float32), "xsquared_hat": (0.0, tf.float32), "b1_correction": (1.0, tf.float32),
        "b2_correction": (1.0, tf.float32)})
    self.scale = state["scale"]
    self._iteration = state["iteration"]
    self._x_hat = state["x_hat"]
    self._slow_x_hat = state["slow_x_hat"]
    self._xsquared_hat = state["xsquared_hat"]
    self._b1_correction = state["b1_correction"]
    self._b2_correction = state["b2_correction"]

  def update_op(self, has_nan, amax):
    """Op that updates the moving statistics of log2(``amax``) and the scale derived from them, and counts the
    iteration (reproduces OpenSeq2Seq's LogMaxScaler, quirks included)."""
    amax = tf.cast(amax, tf.float32)
    # Reference quirk kept on purpose: an overflow feeds 2**log_max (65536), not log_max, into the averages,
    # which pins the scale at scale_min for a long time afterwards.
    x = tf.where(_is_overflow(has_nan, amax), tf.constant(2.0 ** self._log_max, tf.float32),
                 tf.math.log(amax) / tf.math.log(2.0))
    x_hat = self._beta1 * self._x_hat.read_value() + (1.0 - self._beta1) * x
    b1_correction = self._b1_correction.read_value() * self._beta1
    mean = x_hat / (1.0 - b1_correction)
    slow_x_hat = self._beta2 * self._slow_x_hat.read_value() + (1.0 - self._beta2) * x
    xsquared_hat = self._beta2 * self._xsquared_hat.read_value() + (1.0 - self._beta2) * x * x
    b2_correction = self._b2_correction.read_value() * self._beta2
    slow_mean = slow_x_hat / (1.0 - b2_correction)
    variance = xsquared_hat / (1.0 - b2_correction) - slow_mean * slow_mean
    std = tf.sqrt(tf.maximum(variance, 0.0))
    # 16 is float16's exponent range; the reference fixes it here whatever log_max is.
    new_scale = tf.clip_by_value(tf.pow(2.0, 16.0 - (mean + self._overflow_std_dev * std)),
                                 self._scale_min, self._scale_max)
    new_values = [(self._x_hat, x_hat), (self._b1_correction, b1_correction), (self._slow_x_hat, slow_x_hat),
                  (self._xsquared_hat, xsquared_hat), (self._b2_correction, b2_correction),
                  (self.scale, new_scale)]
    with tf.control_dependencies([value for _, value in new_values]):
      assignments = [variable.assign(value, read_value=False) for variable, value in new_values]
    with tf.control_dependencies(assignments):
      return self._iteration.assign_add(1, read_value=False)


ALGORITHMS = {"backoff": BackoffScaler, "logmax": LogMaxScaler}


class AutomaticLossScaler:
  """Loss scale for mixed precision, updated once per apply step from the gradients' overflow status.

  Args:
    algorithm: "Backoff" or "LogMax" (case-insensitive).
    params: ``loss_scaling_params``, the algorithm's settings (see its class for names and defaults).
  """

  def __init__(self, algorithm="Backoff", params=None):
    key = algorithm.strip().lower() if isinstance(algorithm, str) else algorithm
    if key not in ALGORITHMS:
      raise ValueError("Unknown loss scaling algorithm {!r}; expected one of {} (case-insensitive)".format(
          algorithm, ", ".join(sorted(ALGORITHMS))))
    self._scaler = ALGORITHMS[key](params if params is not None else {})

  @property
  def loss_scale(self):
    """The current scale, a float32 scalar variable."""
    return self._scaler.scale

  def update_op(self, has_nan, amax):
    """Advances the state machine once; overflow means ``has_nan or isinf(amax)``."""
    with tf.name_scope("loss_scaler_update"):
      return self._scaler.update_op(has_nan, amax)

  @staticmethod
  def check_grads(grads_and_vars):
    """``(has_nan, amax)``: whether any gradient holds a NaN, and max |g| over all gradients (float32)."""
    grads = [grad.values if isinstance(grad, tf.IndexedSlices) else grad for grad, _ in grads_and_vars
             if grad is not None]
    if not grads:
      raise ValueError("check_grads needs at least one gradient")
    with tf.name_scope("check_grads"):
      # NaN tests and max |g| are exact in float16, so only the per-gradient scalars are cast.
      has_nan = tf.reduce_any(tf.stack([tf.reduce_any(tf.is_nan(grad)) for grad in grads]))
      amax = tf.reduce_max(tf.stack([tf.cast(tf.reduce_max(tf.abs(grad)), tf.float32) for grad in grads]))
    return has_nan, amax

"""AutomaticLossScaler (spec 5.6) against pure-Python re-implementations of both state machines."""
import math

import numpy as np
import pytest
import tensorflow as tf

from open_seq2seq.optimizers.automatic_loss_scaler import AutomaticLossScaler, BackoffScaler, LogMaxScaler

tf.compat.v1.disable_eager_execution()
tf1 = tf.compat.v1

INF = float("inf")
NAN = float("nan")


def backoff_reference(events, scale_min=1.0, scale_max=2.0 ** 14, step_factor=2.0, step_window=2000):
  scale, iteration, last_overflow = scale_max, 0, -1
  scales = []
  for has_nan, amax in events:
    if has_nan or math.isinf(amax):
      scale = min(max(scale / step_factor, scale_min), scale_max)
      last_overflow = iteration
    elif (iteration - last_overflow) % step_window == 0:
      scale = min(max(scale * step_factor, scale_min), scale_max)
    iteration += 1
    scales.append(scale)
  return scales


def logmax_reference(events, scale_min=1.0, scale_max=2.0 ** 14, log_max=16.0, beta1=0.99, beta2=0.999,
                     overflow_std_dev=3.09):
  """Per-step scales and the final state, in float32 like the graph so that the comparison can be tight
  (sigma is a difference of two nearly equal bias-corrected averages)."""
  f32 = np.float32
  x_hat = slow_x_hat = xsquared_hat = f32(0.0)
  b1_correction = b2_correction = f32(1.0)
  scales = []
  for has_nan, amax in events:
    x = f32(2.0 ** log_max) if has_nan or not math.isfinite(amax) else np.log2(f32(amax))
    x_hat = f32(beta1) * x_hat + f32(1.0 - beta1) * x
    b1_correction = b1_correction * f32(beta1)
    mean = x_hat / (f32(1.0) - b1_correction)
    slow_x_hat = f32(beta2) * slow_x_hat + f32(1.0 - beta2) * x
    xsquared_hat = f32(beta2) * xsquared_hat + f32(1.0 - beta2) * x * x
    b2_correction = b2_correction * f32(beta2)
    slow_mean = slow_x_hat / (f32(1.0) - b2_correction)
    sigma = np.sqrt(max(xsquared_hat / (f32(1.0) - b2_correction) - slow_mean * slow_mean, f32(0.0)))
    scales.append(float(np.clip(f32(2.0) ** (f32(16.0) - (mean + f32(overflow_std_dev) * sigma)),
                                scale_min, scale_max)))
  state = dict(x_hat=x_hat, slow_x_hat=slow_x_hat, xsquared_hat=xsquared_hat, b1_correction=b1_correction,
               b2_correction=b2_correction)
  return scales, state


class Driver:
  """A scaler fed through placeholders, one update per ``step`` call."""

  def __init__(self, algorithm, params=None):
    self.has_nan = tf1.placeholder(tf.bool, [])
    self.amax = tf1.placeholder(tf.float32, [])
    self.scaler = AutomaticLossScaler(algorithm, params)
    self.update = self.scaler.update_op(self.has_nan, self.amax)

  def run(self, sess, events):
    scales = []
    for has_nan, amax in events:
      sess.run(self.update, {self.has_nan: has_nan, self.amax: amax})
      scales.append(float(sess.run(self.scaler.loss_scale)))
    return scales


def _state(sess):
  return {v.op.name: sess.run(v) for v in tf1.global_variables()}


def _drive(algorithm, params, events):
  with tf.Graph().as_default():
    driver = Driver(algorithm, params)
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      return driver.run(sess, events), _state(sess)


OVERFLOW, CLEAN = (False, INF), (False, 0.5)
BACKOFF_EVENTS = ([OVERFLOW] * 5 + [CLEAN] * 7 + [(True, 3.0)] + [CLEAN] * 4 + [(False, -INF), (True, NAN)]
                  + [CLEAN] * 20 + [OVERFLOW, CLEAN, CLEAN, CLEAN, OVERFLOW, OVERFLOW] + [CLEAN] * 6)


def test_backoff_hand_computed_start():
  scales, _ = _drive("Backoff", {"scale_max": 16.0, "step_window": 3}, BACKOFF_EVENTS[:12])
  # Halved and clipped at 1; after the overflow at iteration 4, growth at iterations 7 and 10.
  assert scales == [8.0, 4.0, 2.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 4.0, 4.0]


@pytest.mark.parametrize("params", [
    {"scale_max": 16.0, "step_window": 3},
    {"scale_min": 2.0, "scale_max": 64.0, "step_factor": 4.0, "step_window": 2},
    {"scale_max": 8.0, "step_window": 1},
])
def test_backoff_matches_reference(params):
  scales, state = _drive("backoff", params, BACKOFF_EVENTS)
  assert scales == backoff_reference(BACKOFF_EVENTS, **params)
  assert state["Variable"] == len(BACKOFF_EVENTS)
  last_overflow = max(i for i, (has_nan, amax) in enumerate(BACKOFF_EVENTS) if has_nan or math.isinf(amax))
  assert state[BackoffScaler.STATE_NAMES["last_overflow_iteration"]] == last_overflow


def test_backoff_defaults_start_at_scale_max_and_wait_2000_steps():
  events = [OVERFLOW] + [CLEAN] * 2000
  scales, _ = _drive("Backoff", None, events)
  assert scales[0] == 2.0 ** 13
  assert set(scales[1:2000]) == {2.0 ** 13}
  assert scales[2000] == 2.0 ** 14


LOGMAX_EVENTS = [(False, 8.0), (False, 32.0), (False, 0.5), (False, 4.0), (False, 1.0 / 64), (False, 2.0),
                 (False, 12.0), (False, INF), (True, 1.0), (False, 3.0), (False, 0.25)]


@pytest.mark.parametrize("params", [None, {"beta1": 0.9, "beta2": 0.99, "overflow_std_dev": 1.0,
                                           "scale_max": 2.0 ** 20}])
def test_logmax_matches_reference(params):
  scales, state = _drive(" LogMax ", params, LOGMAX_EVENTS)
  expected, expected_state = logmax_reference(LOGMAX_EVENTS, **(params or {}))
  np.testing.assert_allclose(scales, expected, rtol=1e-5)
  assert len(set(scales[:7])) == 7 and all(1.0 < s < 2.0 ** 14 for s in scales[:7])  # unclipped region
  assert scales[7:] == [1.0] * 4  # an overflow feeds 2**16 into the mean: the scale drops to scale_min
  for name, value in expected_state.items():
    np.testing.assert_allclose(state[LogMaxScaler.STATE_NAMES[name]], value, rtol=1e-5, err_msg=name)
  assert state["Variable"] == len(LOGMAX_EVENTS)


def test_logmax_non_finite_step_feeds_two_to_the_log_max():
  _, state = _drive("logmax", {"log_max": 10.0}, [(True, 1.0)])
  np.testing.assert_allclose(state[LogMaxScaler.STATE_NAMES["x_hat"]], 0.01 * 2.0 ** 10, rtol=1e-6)
  np.testing.assert_allclose(state[LogMaxScaler.STATE_NAMES["xsquared_hat"]], 0.001 * 2.0 ** 20, rtol=1e-6)


@pytest.mark.parametrize("algorithm, names", [
    # Spec 4.9: the reference's unnamed tf.Variables, in its creation order, inside Loss_Optimization.
    ("Backoff", [("Variable", tf.int64), ("Variable_1", tf.int64), ("Variable_2", tf.float32)]),
    ("LogMax", [("Variable", tf.int64), ("Variable_1", tf.float32)] + [
        ("Variable_{}".format(i), tf.float32) for i in range(2, 7)]),
])
def test_state_is_named_non_trainable_global_variables(algorithm, names):
  with tf.Graph().as_default():
    with tf1.variable_scope("Loss_Optimization"):
      scaler = AutomaticLossScaler(algorithm)
    variables = [(v.op.name, v.dtype.base_dtype) for v in tf1.global_variables()]
    assert variables == [("Loss_Optimization/" + name, dtype) for name, dtype in names]
    assert not tf1.trainable_variables()
    expected = "Variable_2" if algorithm == "Backoff" else "Variable_1"
    assert scaler.loss_scale.op.name == "Loss_Optimization/" + expected
    assert scaler.loss_scale.dtype.base_dtype == tf.float32 and scaler.loss_scale.shape == []


@pytest.mark.parametrize("algorithm, params, events", [
    ("Backoff", {"scale_max": 16.0, "step_window": 3}, BACKOFF_EVENTS),
    ("LogMax", None, LOGMAX_EVENTS[:5]),
])
def test_saver_round_trip_resumes_the_state_machine(tmp_path, algorithm, params, events):
  half = len(events) // 2
  with tf.Graph().as_default():
    driver = Driver(algorithm, params)
    saver = tf1.train.Saver()
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      driver.run(sess, events[:half])
      saved_state = _state(sess)
      path = saver.save(sess, str(tmp_path / "model.ckpt"))
      uninterrupted = driver.run(sess, events[half:])
  with tf.Graph().as_default():
    driver = Driver(algorithm, params)
    saver = tf1.train.Saver()
    with tf1.Session() as sess:
      saver.restore(sess, path)
      assert _state(sess) == saved_state
      resumed = driver.run(sess, events[half:])
  assert resumed == uninterrupted


def _check(grads_and_vars):
  with tf.Graph().as_default():
    has_nan, amax = AutomaticLossScaler.check_grads(grads_and_vars(tf1.get_variable("v", [2])))
    assert amax.dtype == tf.float32
    with tf1.Session() as sess:
      return sess.run([has_nan, amax])


def test_check_grads_finite():
  has_nan, amax = _check(lambda v: [(tf.constant([1.0, -3.0]), v), (None, v),
                                    (tf.constant([[0.5], [-2.5]], tf.float16), v)])
  assert not has_nan and amax == 3.0


def test_check_grads_reads_indexed_slices_values():
  has_nan, amax = _check(lambda v: [(tf.constant([1.0, -3.0]), v),
                                    (tf.IndexedSlices(tf.constant([[-7.0, 2.0]]), tf.constant([1]),
                                                      tf.constant([4, 2])), v)])
  assert not has_nan and amax == 7.0


def test_check_grads_inf():
  has_nan, amax = _check(lambda v: [(tf.constant([1.0, -INF]), v), (tf.constant([2.0]), v)])
  assert not has_nan and amax == INF


def test_check_grads_nan():
  has_nan, _ = _check(lambda v: [(tf.constant([1.0, 2.0]), v),
                                 (tf.IndexedSlices(tf.constant([[NAN]], tf.float16), tf.constant([0]),
                                                   tf.constant([2, 1])), v)])
  assert has_nan


def test_check_grads_needs_a_gradient():
  with tf.Graph().as_default():
    with pytest.raises(ValueError, match="at least one gradient"):
      AutomaticLossScaler.check_grads([(None, tf1.get_variable("v", [1]))])


@pytest.mark.parametrize("algorithm, params, message", [
    ("adam", None, "backoff, logmax"),
    ("", None, "backoff, logmax"),
    (None, None, "backoff, logmax"),
    ("backoff", {"step_windw": 3}, "step_windw"),
    ("logmax", {"step_window": 3}, "step_window"),
    ("backoff", {"step_window": 2.5}, "step_window"),
    ("backoff", {"step_window": 0}, "step_window"),
    ("backoff", {"scale_min": 8.0, "scale_max": 4.0}, "scale_min"),
    ("logmax", {"beta2": 1.0}, "beta2"),
])
def test_bad_configuration_raises(algorithm, params, message):
  with tf.Graph().as_default():
    with pytest.raises(ValueError, match=message):
      AutomaticLossScaler(algorithm, params)

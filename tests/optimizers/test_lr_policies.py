"""Learning-rate policies (spec 5.4) against closed forms written here with the math module."""
import math

import numpy as np
import pytest
import tensorflow as tf

from open_seq2seq.optimizers.lr_policies import (cosine_decay, exp_decay, fixed_lr, inv_poly_decay,
                                                  piecewise_constant, poly_decay, transformer_policy)

tf.compat.v1.disable_eager_execution()
tf1 = tf.compat.v1


def warmed_up(s, lr0, warmup_steps):
  return lr0 * s / warmup_steps if (warmup_steps > 0 and s < warmup_steps) else lr0


def poly_closed_form(s, lr0, decay_steps, power=1.0, begin_decay_at=0, min_lr=0.0, warmup_steps=0):
  lr_eff = warmed_up(s, lr0, warmup_steps)
  if s < begin_decay_at:
    return lr_eff
  sp = s - begin_decay_at
  return (lr_eff - min_lr) * (1.0 - min(sp, decay_steps) / decay_steps) ** power + min_lr


def _evaluate(steps, policy=poly_decay, **kwargs):
  with tf.Graph().as_default():
    step = tf1.placeholder(tf.int64, [])
    lr = policy(step, **kwargs)
    assert lr.dtype == tf.float32 and lr.shape == []
    assert lr.op.name.split("/")[-1] == "learning_rate"
    with tf1.Session() as sess:
      return np.array([sess.run(lr, {step: s}) for s in steps])


CASES = [
    dict(learning_rate=0.02, decay_steps=1000, power=2.0, min_lr=1e-5),
    dict(learning_rate=0.1, decay_steps=500, power=1.0),
    dict(learning_rate=0.1, decay_steps=500, power=0.5, begin_decay_at=200, min_lr=0.001),
    dict(learning_rate=0.05, decay_steps=900, power=2.0, begin_decay_at=100, min_lr=1e-4, warmup_steps=100),
    dict(learning_rate=0.05, decay_steps=300, power=1.0, begin_decay_at=0, min_lr=0.0, warmup_steps=50),
    dict(learning_rate=0.05, decay_steps=300, power=3.0, begin_decay_at=80, min_lr=0.0, warmup_steps=40),
]
STEPS = [0, 1, 2, 25, 39, 40, 49, 50, 51, 79, 80, 81, 99, 100, 101, 150, 199, 200, 201, 299, 300, 301, 499,
         500, 501, 700, 999, 1000, 1001, 1500, 5000]


@pytest.mark.parametrize("kwargs", CASES)
def test_poly_decay_closed_form(kwargs):
  got = _evaluate(STEPS, **kwargs)
  expected = [poly_closed_form(s, kwargs["learning_rate"], kwargs["decay_steps"], kwargs.get("power", 1.0),
                          kwargs.get("begin_decay_at", 0), kwargs.get("min_lr", 0.0),
                          kwargs.get("warmup_steps", 0)) for s in STEPS]
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-9)


def test_jasper_schedule():
  last_step = 54900
  steps = [0, 1, 100, 1098, 10000, 27450, 54899, 54900, 60000]
  got = _evaluate(steps, learning_rate=0.02, decay_steps=last_step, power=2.0, min_lr=1e-5)
  expected = [(0.02 - 1e-5) * (1 - min(s, last_step) / last_step) ** 2 + 1e-5 for s in steps]
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-10)
  assert abs(got[0] - 0.02) < 1e-9
  assert abs(got[-1] - 1e-5) < 1e-10


def cosine_closed_form(s, lr0, decay_steps, power=1.0, begin_decay_at=0, min_lr=0.0, warmup_steps=0):
  del power  # the cosine ignores it
  lr_eff = warmed_up(s, lr0, warmup_steps)
  if s < begin_decay_at:
    return lr_eff
  progress = min(s - begin_decay_at, decay_steps) / decay_steps
  return lr_eff * ((1.0 - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress)) + min_lr)


def exp_closed_form(s, lr0, decay_steps, decay_rate, use_staircase_decay, begin_decay_at=0, min_lr=0.0,
                    warmup_steps=0):
  lr_eff = warmed_up(s, lr0, warmup_steps)
  if s < begin_decay_at:
    return lr_eff
  exponent = (s - begin_decay_at) / decay_steps
  if use_staircase_decay:
    exponent = math.floor(exponent)
  return max(min_lr, lr_eff * decay_rate ** exponent)


def piecewise_closed_form(s, lr0, boundaries, decay_rates, steps_per_epoch=None, warmup_steps=0):
  if steps_per_epoch is not None:
    boundaries = [b * steps_per_epoch for b in boundaries]
  passed = sum(1 for b in boundaries if s > b)
  return warmed_up(s, lr0, warmup_steps) * ([1.0] + decay_rates)[passed]


def inv_poly_closed_form(s, lr0, decay_steps, min_lr, power=1.0, begin_decay_at=0, warmup_steps=0):
  lr_eff = warmed_up(s, lr0, warmup_steps)
  if s < begin_decay_at:
    return lr_eff
  c = ((lr0 / max(min_lr, 1e-8)) ** (1.0 / power) - 1.0) / decay_steps
  return lr_eff / (1.0 + c * (s - begin_decay_at)) ** power


def transformer_closed_form(s, lr0, d_model, warmup_steps, max_lr=None, coefficient=1.0):
  lr = lr0 * coefficient * d_model ** -0.5 * min((s + 1) * warmup_steps ** -1.5, (s + 1) ** -0.5)
  return lr if max_lr is None else min(lr, max_lr)


def _check_against(policy, closed_form, kwargs, steps=STEPS, rtol=1e-5, atol=1e-9):
  got = _evaluate(steps, policy, **kwargs)
  params = dict(kwargs)
  lr0 = params.pop("learning_rate")
  expected = [closed_form(s, lr0, **params) for s in steps]
  np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)
  return got


@pytest.mark.parametrize("kwargs", [
    dict(learning_rate=0.01, decay_steps=1000),
    dict(learning_rate=0.01, decay_steps=1000, power=3.0, min_lr=0.1),
    dict(learning_rate=0.05, decay_steps=400, begin_decay_at=100, min_lr=0.02, warmup_steps=100),
    dict(learning_rate=0.05, decay_steps=300, begin_decay_at=200, warmup_steps=50),
])
def test_cosine_decay_closed_form(kwargs):
  got = _check_against(cosine_decay, cosine_closed_form, kwargs)
  # min_lr is a fraction of lr0: after the decay the rate is lr0 * min_lr, not min_lr.
  np.testing.assert_allclose(got[STEPS.index(5000)], kwargs["learning_rate"] * kwargs.get("min_lr", 0.0), atol=1e-9)


@pytest.mark.parametrize("kwargs", [
    dict(learning_rate=0.1, decay_steps=100, decay_rate=0.5, use_staircase_decay=False),
    dict(learning_rate=0.1, decay_steps=100, decay_rate=0.5, use_staircase_decay=True),
    dict(learning_rate=0.1, decay_steps=100, decay_rate=0.5, use_staircase_decay=False, min_lr=0.01),
    dict(learning_rate=0.1, decay_steps=200, decay_rate=0.1, use_staircase_decay=True, begin_decay_at=300,
         min_lr=1e-3),
    dict(learning_rate=0.1, decay_steps=150, decay_rate=0.9, use_staircase_decay=False, begin_decay_at=80,
         warmup_steps=80),
    dict(learning_rate=0.1, decay_steps=150, decay_rate=0.7, use_staircase_decay=True, warmup_steps=50),
])
def test_exp_decay_closed_form(kwargs):
  _check_against(exp_decay, exp_closed_form, kwargs)


def test_exp_decay_staircase_and_floor_spot_values():
  steps = [0, 99, 100, 101, 199, 200, 399, 400, 1000]
  stair = _evaluate(steps, exp_decay, learning_rate=0.1, decay_steps=100, decay_rate=0.5, use_staircase_decay=True,
                    min_lr=0.01)
  np.testing.assert_allclose(stair, [0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.0125, 0.01, 0.01], rtol=1e-6)


@pytest.mark.parametrize("kwargs", [
    dict(learning_rate=0.1, boundaries=[100, 300, 700], decay_rates=[0.5, 0.1, 0.01]),
    dict(learning_rate=0.1, boundaries=[2, 5], decay_rates=[0.1, 0.01], steps_per_epoch=50),
    dict(learning_rate=0.2, boundaries=[100, 500], decay_rates=[0.3, 0.03], warmup_steps=80),
    dict(learning_rate=0.2, boundaries=[1, 3], decay_rates=[0.3, 0.03], steps_per_epoch=40, warmup_steps=50),
])
def test_piecewise_constant_closed_form(kwargs):
  _check_against(piecewise_constant, piecewise_closed_form, kwargs)


def test_piecewise_constant_switches_after_each_boundary():
  steps = [0, 99, 100, 101, 249, 250, 251, 10000]
  got = _evaluate(steps, piecewise_constant, learning_rate=1.0, boundaries=[2, 5], decay_rates=[0.1, 0.01],
                  steps_per_epoch=50)
  np.testing.assert_allclose(got, [1.0, 1.0, 1.0, 0.1, 0.1, 0.1, 0.01, 0.01], rtol=1e-6)


@pytest.mark.parametrize("kwargs", [
    dict(learning_rate=0.1, decay_steps=1000, min_lr=1e-4),
    dict(learning_rate=0.1, decay_steps=1000, min_lr=1e-3, power=2.0),
    dict(learning_rate=0.1, decay_steps=500, min_lr=1e-3, power=0.5, begin_decay_at=200, warmup_steps=200),
    dict(learning_rate=0.1, decay_steps=800, min_lr=1e-2, warmup_steps=100),
    dict(learning_rate=0.1, decay_steps=800, min_lr=0.0),
])
def test_inv_poly_decay_closed_form(kwargs):
  _check_against(inv_poly_decay, inv_poly_closed_form, kwargs)


def test_inv_poly_decay_reaches_min_lr_after_decay_steps():
  got = _evaluate([300, 1300], inv_poly_decay, learning_rate=0.1, decay_steps=1000, min_lr=1e-3, power=2.0,
                  begin_decay_at=300)
  np.testing.assert_allclose(got, [0.1, 1e-3], rtol=1e-5)


@pytest.mark.parametrize("kwargs", [
    dict(learning_rate=2.0, d_model=512, warmup_steps=100),
    dict(learning_rate=2.0, d_model=512, warmup_steps=100, max_lr=0.002, coefficient=0.5),
    dict(learning_rate=1.0, d_model=64, warmup_steps=40, max_lr=0.01),
])
def test_transformer_policy_closed_form(kwargs):
  got = _check_against(transformer_policy, transformer_closed_form, kwargs)
  if kwargs.get("max_lr") is not None:
    assert got.max() <= kwargs["max_lr"] * (1 + 1e-6)
    np.testing.assert_allclose(got.max(), kwargs["max_lr"], rtol=1e-6)


def test_transformer_policy_peaks_at_warmup():
  steps = [0, 98, 99, 100, 400]
  got = _evaluate(steps, transformer_policy, learning_rate=1.0, d_model=100, warmup_steps=100)
  np.testing.assert_allclose(got, [0.1 * 1e-3, 0.1 * 0.099, 0.1 * 0.1, 0.1 / math.sqrt(101), 0.1 / math.sqrt(401)],
                             rtol=1e-5)
  assert got.argmax() == 2


def test_fixed_lr():
  np.testing.assert_allclose(_evaluate([0, 10, 10 ** 6], fixed_lr, learning_rate=0.3), [0.3] * 3, rtol=1e-7)


def test_warmup_ramps_every_warmed_policy_from_zero():
  warmup = {"warmup_steps": 10}
  policies = [
      (poly_decay, dict(learning_rate=0.5, decay_steps=100, begin_decay_at=10)),
      (cosine_decay, dict(learning_rate=0.5, decay_steps=100, begin_decay_at=10)),
      (exp_decay, dict(learning_rate=0.5, decay_steps=100, decay_rate=0.5, use_staircase_decay=False,
                       begin_decay_at=10, min_lr=0.01)),
      (piecewise_constant, dict(learning_rate=0.5, boundaries=[50], decay_rates=[0.1])),
      (inv_poly_decay, dict(learning_rate=0.5, decay_steps=100, min_lr=0.01, begin_decay_at=10)),
  ]
  for policy, kwargs in policies:
    got = _evaluate([0, 1, 5, 9, 10], policy, **dict(kwargs, **warmup))
    np.testing.assert_allclose(got, [0.0, 0.05, 0.25, 0.45, 0.5], rtol=1e-6, atol=1e-9, err_msg=policy.__name__)


def test_policies_accept_the_global_step_variable():
  with tf.Graph().as_default():
    global_step = tf1.train.get_or_create_global_step()
    rates = [
        poly_decay(global_step, learning_rate=0.02, decay_steps=1000, power=2.0, min_lr=1e-5),
        cosine_decay(global_step, learning_rate=0.02, decay_steps=1000),
        exp_decay(global_step, learning_rate=0.02, decay_steps=100, decay_rate=0.5, use_staircase_decay=True),
        piecewise_constant(global_step, learning_rate=0.02, boundaries=[100], decay_rates=[0.1]),
        inv_poly_decay(global_step, learning_rate=0.02, decay_steps=1000, min_lr=1e-4),
        transformer_policy(global_step, learning_rate=1.0, d_model=16, warmup_steps=10),
    ]
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      sess.run(global_step.assign(250))
      got = sess.run(rates)
  expected = [
      poly_closed_form(250, 0.02, 1000, power=2.0, min_lr=1e-5),
      cosine_closed_form(250, 0.02, 1000),
      exp_closed_form(250, 0.02, 100, 0.5, True),
      piecewise_closed_form(250, 0.02, [100], [0.1]),
      inv_poly_closed_form(250, 0.02, 1000, 1e-4),
      transformer_closed_form(250, 1.0, 16, 10),
  ]
  np.testing.assert_allclose(got, expected, rtol=1e-5)


@pytest.mark.parametrize("policy, kwargs, message", [
    (cosine_decay, dict(learning_rate=0.1, decay_steps=0), "decay_steps"),
    (cosine_decay, dict(learning_rate=0.1, decay_steps=10, min_lr=2.0), "min_lr"),
    (exp_decay, dict(learning_rate=0.1, decay_steps=-5, decay_rate=0.5, use_staircase_decay=False), "decay_steps"),
    (exp_decay, dict(learning_rate=0.1, decay_steps=5, decay_rate=0.0, use_staircase_decay=False), "decay_rate"),
    (exp_decay, dict(learning_rate=0.1, decay_steps=5, decay_rate=0.5, use_staircase_decay=False,
                     begin_decay_at=-1), "begin_decay_at"),
    (exp_decay, dict(learning_rate=0.1, decay_steps=5, decay_rate=0.5, use_staircase_decay=False,
                     warmup_steps=-1), "warmup_steps"),
    (piecewise_constant, dict(learning_rate=0.1, boundaries=[10, 10], decay_rates=[0.1, 0.01]), "increasing"),
    (piecewise_constant, dict(learning_rate=0.1, boundaries=[20, 10], decay_rates=[0.1, 0.01]), "increasing"),
    (piecewise_constant, dict(learning_rate=0.1, boundaries=[10, 20], decay_rates=[0.1]), "one decay rate"),
    (piecewise_constant, dict(learning_rate=0.1, boundaries=[10], decay_rates=[0.1], steps_per_epoch=0),
     "steps_per_epoch"),
    (inv_poly_decay, dict(learning_rate=0.1, decay_steps=0, min_lr=1e-3), "decay_steps"),
    (inv_poly_decay, dict(learning_rate=0.1, decay_steps=10, min_lr=0.5), "min_lr"),
    (inv_poly_decay, dict(learning_rate=0.1, decay_steps=10, min_lr=-1e-3), "min_lr"),
    (inv_poly_decay, dict(learning_rate=0.1, decay_steps=10, min_lr=1e-3, power=0.0), "power"),
    (transformer_policy, dict(learning_rate=1.0, d_model=0, warmup_steps=10), "d_model"),
    (transformer_policy, dict(learning_rate=1.0, d_model=8, warmup_steps=0), "warmup_steps"),
    (transformer_policy, dict(learning_rate=1.0, d_model=8, warmup_steps=10, max_lr=0.0), "max_lr"),
])
def test_invalid_arguments_raise(policy, kwargs, message):
  with tf.Graph().as_default():
    with pytest.raises(ValueError, match=message):
      policy(tf1.placeholder(tf.int64, []), **kwargs)

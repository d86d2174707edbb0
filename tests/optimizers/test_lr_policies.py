"""poly_decay (spec 5.4) against the closed form."""
import numpy as np
import pytest
import tensorflow as tf

from open_seq2seq.optimizers.lr_policies import poly_decay

tf.compat.v1.disable_eager_execution()
tf1 = tf.compat.v1


def closed_form(s, lr0, decay_steps, power=1.0, begin_decay_at=0, min_lr=0.0, warmup_steps=0):
  lr_eff = lr0 * s / warmup_steps if (warmup_steps > 0 and s < warmup_steps) else lr0
  if s < begin_decay_at:
    return lr_eff
  sp = s - begin_decay_at
  return (lr_eff - min_lr) * (1.0 - min(sp, decay_steps) / decay_steps) ** power + min_lr


def _evaluate(steps, **kwargs):
  with tf.Graph().as_default():
    step = tf1.placeholder(tf.int64, [])
    lr = poly_decay(step, **kwargs)
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
  expected = [closed_form(s, kwargs["learning_rate"], kwargs["decay_steps"], kwargs.get("power", 1.0),
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

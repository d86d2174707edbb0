"""Exponential moving average of the weights (open_seq2seq/optimizers/ema.py) on a small Jasper-style model: the
shadows against a numpy recurrence over the weights fetched after every step, skipped and accumulation-only
steps, the graph without ema_decay, and train_eval's evaluation, which reads the averages and leaves the
training weights alone."""
import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from open_seq2seq.training.hooks import RunEvaluationHook
from open_seq2seq.training.iterate import iterate_data
from tests.optimizers.speech_model_fixture import build_model

tf.disable_eager_execution()

MASTER = "Loss_Optimization/FP32-master-copy/"
SUFFIX = "/ExponentialMovingAverage"


def averaged_pairs():
  """``{shadow name: (averaged variable, shadow variable)}`` of the default graph."""
  by_name = {v.op.name: v for v in tf.global_variables()}
  return {name: (by_name[name[:-len(SUFFIX)]], var) for name, var in by_name.items() if name.endswith(SUFFIX)}


def numpy_decay(decay, step):
  """tf.train.ExponentialMovingAverage's decay with num_updates = global_step after the update."""
  return min(decay, (1.0 + step) / (10.0 + step))


class Trainer:
  """A training model with its session; ``step()`` runs one training step and checks the shadows against
  ``decay * shadow + (1 - decay) * weight`` over the weights fetched after the step."""

  def __init__(self, decay, **overrides):
    self.decay = decay
    self.graph = tf.Graph()
    with self.graph.as_default():
      self.model = build_model(ema_decay=decay, **overrides)
      self.pairs = averaged_pairs()
      self.global_step = tf.train.get_global_step()
      self.sess = tf.Session()
      self.sess.run([tf.global_variables_initializer(), self.model.get_data_layer().iterator.initializer])
    self.expected = self.shadows()
    for name, (weight, _) in self.pairs.items():
      np.testing.assert_array_equal(self.expected[name], self.sess.run(weight), err_msg=name)

  def shadows(self):
    return self.sess.run({name: shadow for name, (_, shadow) in self.pairs.items()})

  def weights(self):
    return self.sess.run({name: weight for name, (weight, _) in self.pairs.items()})

  def step(self, feed=None, moves=True):
    """One run of the train op; the shadows follow the recurrence when ``moves``, else stay bit for bit."""
    before = self.sess.run(self.global_step)
    self.sess.run(self.model.train_op, feed)
    step = self.sess.run(self.global_step)
    assert step == before + (1 if moves else 0)
    if moves:
      decay = numpy_decay(self.decay, step)
      weights = self.weights()
      self.expected = {name: decay * self.expected[name].astype(np.float64) + (1.0 - decay) * weights[name]
                       for name in self.expected}
    shadows = self.shadows()
    for name, expected in self.expected.items():
      if moves:
        np.testing.assert_allclose(shadows[name], expected, rtol=0, atol=1e-6, err_msg=name)
      else:
        np.testing.assert_array_equal(shadows[name], expected, err_msg=name)
    self.expected = shadows
    return step

  def close(self):
    self.sess.close()


@pytest.mark.parametrize("dtype", [tf.float32, "bfloat16"])
def test_shadows_follow_the_numpy_recurrence(dtype):
  """Decay 0.3: (1 + n) / (10 + n) for the first two updates, then 0.3. The averaged variables are those the
  optimizer updates: the float32 master copies of bfloat16 weights, the float32 variables themselves."""
  trainer = Trainer(0.3, dtype=dtype, optimizer="SGD", optimizer_params={}, lr_policy_params={"learning_rate": 0.05})
  with trainer.graph.as_default():
    trainable = tf.trainable_variables()
    averaged = {weight.op.name for weight, _ in trainer.pairs.values()}
    assert all(shadow.dtype.base_dtype == tf.float32 for _, shadow in trainer.pairs.values())
    assert not any("moving_" in name for name in averaged)
  expected = {(MASTER if var.dtype.base_dtype == tf.bfloat16 else "") + var.op.name for var in trainable}
  assert averaged == expected and len(averaged) == len(trainable)
  assert {name[:-len(SUFFIX)] for name in trainer.pairs} == averaged
  start = trainer.weights()
  for step in range(1, 6):
    assert trainer.step() == step
  final = trainer.weights()
  assert all(not np.array_equal(start[name], final[name]) for name in start)
  trainer.close()


@pytest.mark.parametrize("dtype,overrides", [
    ("mixed", {"loss_scaling": "Backoff"}),  # the automatic loss scaler's own skip
    ("mixed", {"loss_scaling": 128.0}),  # optimize_loss's non-finite check
    (tf.float32, {}),
])
def test_a_skipped_step_leaves_the_shadows(dtype, overrides):
  trainer = Trainer(0.9, dtype=dtype, **overrides)
  scale = trainer.model.get_data_layer().features_scale_ph
  trainer.step()
  weights = trainer.weights()
  trainer.step({scale: np.inf}, moves=False)
  for name, value in trainer.weights().items():
    np.testing.assert_array_equal(value, weights[name], err_msg=name)
  trainer.step()
  trainer.close()


def test_accumulation_runs_leave_the_shadows():
  trainer = Trainer(0.9, iter_size=2)
  skip = trainer.model.skip_update_ph
  for _ in range(2):
    trainer.step({skip: True}, moves=False)
    trainer.step({skip: False})
  trainer.close()


def train_weights(steps, **overrides):
  """Names of the global variables, and the forward-pass weights after ``steps`` training steps."""
  with tf.Graph().as_default():
    model = build_model(**overrides)
    names = [v.op.name for v in tf.global_variables()]
    assert not tf.get_collection(tf.GraphKeys.MOVING_AVERAGE_VARIABLES) or overrides.get("ema_decay")
    with tf.Session() as sess:
      sess.run([tf.global_variables_initializer(), model.get_data_layer().iterator.initializer])
      for _ in range(steps):
        sess.run(model.train_op)
      return names, {v.op.name: sess.run(v) for v in tf.global_variables() if v.op.name.startswith("ForwardPass/")}


def test_without_ema_decay_nothing_changes_and_averaging_never_feeds_back():
  names, weights = train_weights(3)
  names_zero, weights_zero = train_weights(3, ema_decay=0.0)
  names_ema, weights_ema = train_weights(3, ema_decay=0.9)
  assert names == names_zero and not any(SUFFIX in name for name in names)
  assert [name for name in names_ema if not name.endswith(SUFFIX)] == names
  for name, value in weights.items():
    np.testing.assert_array_equal(weights_zero[name], value, err_msg=name)
    np.testing.assert_array_equal(weights_ema[name], value, err_msg=name)


@pytest.mark.parametrize("decay", [1.0, -0.5])
def test_ema_decay_outside_0_1_is_refused(decay):
  with tf.Graph().as_default(), pytest.raises(ValueError, match=r"'ema_decay' is .*expected float in \[0, 1\)"):
    build_model(ema_decay=decay)


def eval_loss_and_wer(sess, model):
  results, loss = iterate_data(model, sess, compute_loss=True, verbose=False)
  return loss, model.finalize_evaluation(results)["Eval WER"]


def hand_set_evaluation(values, dtype):
  """(loss, WER) of an eval-mode model in a graph of its own whose variables are set to ``values`` by name."""
  with tf.Graph().as_default():
    model = build_model(mode="eval", dtype=dtype)
    with tf.Session() as sess:
      for var in tf.global_variables():
        var.load(values[var.op.name].astype(var.dtype.base_dtype.as_numpy_dtype), sess)
      return eval_loss_and_wer(sess, model)


@pytest.mark.parametrize("dtype", [tf.float32, "bfloat16"])
def test_train_eval_evaluates_the_averages_and_leaves_the_training_weights(dtype, capsys):
  """The evaluation hook's loss and WER are those of a separate eval graph holding the shadows (cast to the
  eval dtype) and the batch-norm statistics; every variable of the training graph is unchanged by it."""
  with tf.Graph().as_default():
    train_model = build_model(dtype=dtype, ema_decay=0.9, optimizer="SGD", optimizer_params={},
                              lr_policy_params={"learning_rate": 0.1})
    eval_model = build_model(mode="eval", force_var_reuse=True, dtype=dtype, ema_decay=0.9)
    assert "Evaluating with the exponential moving averages of 17 weights" in capsys.readouterr().out
    hook = RunEvaluationHook(eval_model, every_steps=4, last_step=4, logdir="", num_checkpoints=1, save_best=False)
    hook.begin()
    forward = [v for v in tf.global_variables() if v.op.name.startswith("ForwardPass/")]
    pairs = averaged_pairs()
    with tf.Session() as sess:
      sess.run([tf.global_variables_initializer(), train_model.get_data_layer().iterator.initializer])
      for _ in range(4):
        sess.run(train_model.train_op)
      before = sess.run(tf.global_variables())
      hook.run_evaluation(sess, 4)
      after = sess.run(tf.global_variables())
      raw = {v.op.name: value.astype(np.float32) for v, value in zip(forward, sess.run(forward))}
      averaged = dict(raw)
      for weight, shadow in pairs.values():
        averaged[weight.op.name[len(MASTER):] if weight.op.name.startswith(MASTER) else weight.op.name] = \
            sess.run(shadow)
  for old, new in zip(before, after):
    np.testing.assert_array_equal(old, new)
  (step, loss, wer), = hook.history
  ema_loss, ema_wer = hand_set_evaluation(averaged, dtype)
  raw_loss, _ = hand_set_evaluation(raw, dtype)
  assert step == 4 and wer == ema_wer
  assert loss == pytest.approx(ema_loss, rel=1e-6)
  assert abs(loss - raw_loss) > 1e-3 * abs(raw_loss), (loss, raw_loss)

"""Eval and infer from a checkpoint with moving averages of the weights (utils/checkpoint.py build_restore_fn,
training/evaluate.py restored_session): the logits equal those of a graph whose variables are set by hand to
the checkpoint's shadows, and without ema_decay to its raw weights, as before."""
import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from open_seq2seq.training.evaluate import restored_session
from tests.optimizers.speech_model_fixture import build_model

tf.disable_eager_execution()

LOGITS = "ForwardPass/fully_connected_ctc_decoder/logits:0"
MASTER = "Loss_Optimization/FP32-master-copy/"
SUFFIX = "/ExponentialMovingAverage"
DECAY = 0.5


def train_checkpoint(directory, steps=4, **overrides):
  with tf.Graph().as_default():
    model = build_model(optimizer="SGD", optimizer_params={}, lr_policy_params={"learning_rate": 0.1},
                        **overrides)
    saver = tf.train.Saver()
    with tf.Session() as sess:
      sess.run([tf.global_variables_initializer(), model.get_data_layer().iterator.initializer])
      for _ in range(steps):
        sess.run(model.train_op)
      return saver.save(sess, str(directory / "model.ckpt"), global_step=steps)


@pytest.fixture(scope="module", params=[tf.float32, "bfloat16"], ids=["float32", "bfloat16"])
def ema_checkpoint(request, tmp_path_factory):
  """A checkpoint of float32 or bfloat16 training with ema_decay (whose float32 master copies are averaged)."""
  return train_checkpoint(tmp_path_factory.mktemp("ema"), dtype=request.param, ema_decay=DECAY)


def stored_values(checkpoint, averaged):
  """Forward-pass name -> value a float32 eval graph should hold: the shadow of the master copy or of the
  variable itself (``averaged``), else the master copy or the variable."""
  reader = tf.train.load_checkpoint(checkpoint)
  stored = reader.get_variable_to_shape_map()
  values = {}
  for name in stored:
    if not name.startswith("ForwardPass/") or name.endswith(SUFFIX):
      continue
    candidates = [MASTER + name + SUFFIX, name + SUFFIX] if averaged else []
    source = [c for c in candidates + [MASTER + name, name] if c in stored][0]
    values[name] = reader.get_tensor(source).astype(np.float32)
  return values


def hand_set_logits(mode, values):
  with tf.Graph().as_default() as graph:
    model = build_model(mode=mode)
    with tf.Session() as sess:
      for var in tf.global_variables():
        var.load(values[var.op.name], sess)
      sess.run(model.get_data_layer().iterator.initializer)
      return sess.run(graph.get_tensor_by_name(LOGITS))


def restored_logits(mode, checkpoint, **overrides):
  with tf.Graph().as_default() as graph:
    model = build_model(mode=mode, **overrides)
    with restored_session(model, checkpoint) as sess:
      sess.run(model.get_data_layer().iterator.initializer)
      return sess.run(graph.get_tensor_by_name(LOGITS))


@pytest.mark.parametrize("mode", ["eval", "infer"])
def test_eval_and_infer_restore_the_moving_averages(ema_checkpoint, mode, capsys):
  logits = restored_logits(mode, ema_checkpoint, ema_decay=DECAY)
  assert "Restoring the exponential moving averages of 17 weights" in capsys.readouterr().out
  np.testing.assert_allclose(logits, hand_set_logits(mode, stored_values(ema_checkpoint, True)), rtol=0, atol=1e-5)
  raw = hand_set_logits(mode, stored_values(ema_checkpoint, False))
  assert np.max(np.abs(logits - raw)) > 1e-3
  np.testing.assert_allclose(restored_logits(mode, ema_checkpoint), raw, rtol=0, atol=1e-5)
  assert "moving averages" not in capsys.readouterr().out


def test_a_checkpoint_without_averages_restores_the_raw_weights(tmp_path, capsys):
  checkpoint = train_checkpoint(tmp_path, steps=2)
  logits = restored_logits("eval", checkpoint, ema_decay=DECAY)
  assert "holds no moving averages of the weights: restoring the raw weights" in capsys.readouterr().out
  np.testing.assert_allclose(logits, hand_set_logits("eval", stored_values(checkpoint, False)), rtol=0, atol=1e-5)

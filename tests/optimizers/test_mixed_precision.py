"""Mixed precision (float16 with loss scaling, bfloat16) on a small Jasper-style model: variable names of
spec 4.9, one step against the float32 step, overflow skipping and checkpoint round trips."""
import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from open_seq2seq.optimizers.mp_wrapper import MASTER_COPIES_COLLECTION
from tests.optimizers.speech_model_fixture import build_model

tf.disable_eager_execution()

MASTER = "Loss_Optimization/FP32-master-copy/"


def initial_values(dtype=tf.float32, seed=0):
  """Forward-pass variable values of a freshly initialised model (the reference weights of a test)."""
  with tf.Graph().as_default():
    tf.set_random_seed(seed)
    build_model(dtype=dtype)
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      return {v.op.name: sess.run(v) for v in tf.global_variables() if v.op.name.startswith("ForwardPass/")}


def one_step(dtype, weights, **overrides):
  """(loss, updated float32 weights by forward name, global_step) after one training step from ``weights``."""
  with tf.Graph().as_default():
    model = build_model(dtype=dtype, **overrides)
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      sess.run(model.get_data_layer().iterator.initializer)
      for var in tf.global_variables():
        name = var.op.name[len(MASTER):] if var.op.name.startswith(MASTER) else var.op.name
        if name in weights:
          var.load(weights[name].astype(var.dtype.base_dtype.as_numpy_dtype), sess)
      loss = sess.run(model.train_op)
      updated = {}
      for var in tf.global_variables():
        name = var.op.name
        if name.startswith(MASTER):
          updated[name[len(MASTER):]] = sess.run(var)
        elif name in weights and name not in updated:
          updated[name] = sess.run(var).astype(np.float32)
      return float(loss), updated, sess.run(tf.train.get_global_step())


@pytest.fixture(scope="module")
def reference_step():
  weights = initial_values()
  return weights, one_step(tf.float32, weights)


@pytest.mark.parametrize("dtype,loss_rtol,update_tolerance", [("mixed", 2e-3, 0.05), ("bfloat16", 2e-2, 0.15)])
def test_reduced_precision_step_matches_float32(reference_step, dtype, loss_rtol, update_tolerance):
  """Same initial weights and batch: the loss agrees to ``loss_rtol`` and every layer's update (new - old
  master weights) differs from the float32 update by at most ``update_tolerance`` of its norm."""
  weights, (loss32, updated32, step32) = reference_step
  scaling = {"loss_scaling": "Backoff"} if dtype == "mixed" else {}
  loss, updated, step = one_step(dtype, weights, **scaling)
  assert step == step32 == 1
  assert loss == pytest.approx(loss32, rel=loss_rtol)
  trainable = [name for name in updated32 if "moving_" not in name]
  for name in trainable:
    expected = updated32[name] - weights[name]
    actual = updated[name] - weights[name].astype(np.float32)
    assert np.linalg.norm(actual - expected) <= update_tolerance * np.linalg.norm(expected), name


def test_mixed_graph_variable_names_follow_the_reference():
  with tf.Graph().as_default():
    build_model(dtype="mixed", loss_scaling="Backoff")
    trainable = tf.trainable_variables()
    by_name = {v.op.name: v for v in tf.global_variables()}
    masters = {v.op.name for v in tf.get_collection(MASTER_COPIES_COLLECTION)}
  reduced = [v for v in trainable if v.dtype.base_dtype == tf.float16]
  assert {v.op.name.split("/")[-1] for v in reduced} == {"kernel", "bias"}
  assert all(v.dtype.base_dtype == tf.float32 for v in trainable if "/bn" in v.op.name or "res_bn" in v.op.name)
  for var in trainable:
    name = var.op.name
    if var in reduced:
      master = by_name[MASTER + name]
      assert master.dtype.base_dtype == tf.float32 and master.op.name in masters
      assert master not in trainable
      assert "Loss_Optimization/" + MASTER + name + "/NovoGrad" in by_name
    else:
      assert "Loss_Optimization/" + name + "/NovoGrad" in by_name
  for index in range(len(trainable)):
    assert "Loss_Optimization/nvgrad2_ema{}".format(index) in by_name
  assert by_name["Loss_Optimization/Variable"].dtype.base_dtype == tf.int64
  assert by_name["Loss_Optimization/Variable_1"].dtype.base_dtype == tf.int64
  assert by_name["Loss_Optimization/Variable_2"].dtype.base_dtype == tf.float32


def test_non_finite_gradients_skip_the_step_and_back_off_the_scale(tmp_path):
  with tf.Graph().as_default():
    model = build_model(dtype="mixed", loss_scaling="Backoff",
                        loss_scaling_params={"scale_min": 1.0, "scale_max": 1024.0, "step_factor": 2.0,
                                             "step_window": 2})
    data_layer = model.get_data_layer()
    kernel = [v for v in tf.global_variables() if v.op.name == MASTER + "ForwardPass/w2l_encoder/conv11/kernel"][0]
    scale = [v for v in tf.global_variables() if v.op.name == "Loss_Optimization/Variable_2"][0]
    global_step = tf.train.get_global_step()
    saver = tf.train.Saver()
    with tf.Session() as sess:
      sess.run([tf.global_variables_initializer(), data_layer.iterator.initializer])
      before = sess.run(kernel)
      assert sess.run(scale) == 1024.0
      sess.run(model.train_op, {data_layer.features_scale_ph: np.inf})
      np.testing.assert_array_equal(sess.run(kernel), before)
      assert sess.run(global_step) == 0 and sess.run(scale) == 512.0
      scales = []
      for _ in range(3):
        sess.run(model.train_op)
        scales.append(sess.run(scale))
      assert sess.run(global_step) == 3
      assert not np.array_equal(sess.run(kernel), before)
      # Backoff: no growth until step_window clean steps after the overflow, then x2.
      assert scales == [512.0, 1024.0, 1024.0]
      sess.run(model.train_op, {data_layer.features_scale_ph: np.nan})
      state = sess.run([global_step, scale])
      saver.save(sess, str(tmp_path / "model"), global_step=global_step)
  assert state[0] == 3 and state[1] == 512.0
  with tf.Graph().as_default():
    build_model(dtype="mixed", loss_scaling="Backoff")
    scale = [v for v in tf.global_variables() if v.op.name == "Loss_Optimization/Variable_2"][0]
    with tf.Session() as sess:
      tf.train.Saver().restore(sess, tf.train.latest_checkpoint(str(tmp_path)))
      assert sess.run(scale) == 512.0


def test_fixed_loss_scale_is_divided_back_out(reference_step):
  weights, (loss32, updated32, _) = reference_step
  loss, updated, step = one_step("mixed", weights, loss_scaling=128.0)
  assert step == 1 and loss == pytest.approx(loss32, rel=2e-3)
  name = "ForwardPass/fully_connected_ctc_decoder/fully_connected/kernel"
  expected = updated32[name] - weights[name]
  assert np.linalg.norm(updated[name] - weights[name] - expected) <= 0.03 * np.linalg.norm(expected)


def test_bfloat16_is_not_loss_scaled_and_still_skips_non_finite_steps():
  """bfloat16 has float32's exponent: a configured automatic scaler keeps its checkpointed state but is never
  applied or updated (no gradient checks for it in the graph), and a step with non-finite gradients is skipped
  as in float32."""
  with tf.Graph().as_default():
    model = build_model(dtype="bfloat16", loss_scaling="Backoff",
                        loss_scaling_params={"scale_min": 1.0, "scale_max": 1024.0, "step_factor": 2.0,
                                             "step_window": 1})
    data_layer = model.get_data_layer()
    assert not [op for op in tf.get_default_graph().get_operations() if "check_grads" in op.name]
    kernel = [v for v in tf.global_variables() if v.op.name == MASTER + "ForwardPass/w2l_encoder/conv11/kernel"][0]
    scale = [v for v in tf.global_variables() if v.op.name == "Loss_Optimization/Variable_2"][0]
    global_step = tf.train.get_global_step()
    with tf.Session() as sess:
      sess.run([tf.global_variables_initializer(), data_layer.iterator.initializer])
      before = sess.run(kernel)
      sess.run(model.train_op, {data_layer.features_scale_ph: np.inf})
      np.testing.assert_array_equal(sess.run(kernel), before)
      assert sess.run(global_step) == 0
      for _ in range(2):
        sess.run(model.train_op)
      assert sess.run(global_step) == 2 and not np.array_equal(sess.run(kernel), before)
      # Backoff with step_window 1 would have doubled a scale in use after each clean step.
      assert sess.run(scale) == 1024.0

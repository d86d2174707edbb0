"""The fused NovoGrad kernel (optimizers/fused_update.py): bit for bit the op-by-op update on a Jasper-style
model in every precision, with and without moving averages; a variable read before the update keeps its value;
errors name what is wrong; without a working compiler training falls back to the op-by-op update."""
import os
import stat

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from open_seq2seq.optimizers import fused_update
from tests.optimizers.speech_model_fixture import build_model

tf.disable_eager_execution()


def _train(path, monkeypatch, steps=8, **overrides):
  """Every variable of the small Jasper-style model after ``steps`` training steps on the ``path`` update, and
  the number of fused kernels in the graph (inside the skip-step condition's branch function)."""
  monkeypatch.setenv(fused_update.ENABLE_ENV, "1" if path == "fused" else "0")
  fused_update.reset()
  with tf.Graph().as_default() as graph:
    model = build_model(**overrides)
    fused = sum(node.op == "JasperNovoGradApply" for function in graph.as_graph_def().library.function
                for node in function.node_def)
    with tf.Session() as sess:
      sess.run([tf.global_variables_initializer(), model.get_data_layer().iterator.initializer])
      for _ in range(steps):
        sess.run(model.train_op)
      values = sess.run({var.op.name: var for var in tf.global_variables()})
  fused_update.reset()
  return values, fused


@pytest.mark.parametrize("overrides", [
    dict(dtype=tf.float32),
    dict(dtype=tf.float32, ema_decay=0.9),
    dict(dtype="bfloat16", ema_decay=0.9),
    dict(dtype="bfloat16"),
    dict(dtype="mixed", ema_decay=0.9, loss_scaling="Backoff"),
    dict(dtype=tf.float32, ema_decay=0.9, optimizer_params={"beta1": 0.9, "beta2": 0.5, "weight_decay": 0.0,
                                                             "ema_bug_compat": True}),
], ids=["float32", "float32-ema", "bfloat16-ema", "bfloat16", "float16-ema-scaled", "no-decay-compat"])
def test_fused_update_is_bit_identical_to_the_op_by_op_update(overrides, monkeypatch):
  reference, none = _train("op_by_op", monkeypatch, **overrides)
  fused, kernels = _train("fused", monkeypatch, **overrides)
  assert none == 0
  # one kernel per updated weight, i.e. per momentum slot
  assert kernels == sum(name.endswith("/NovoGrad") for name in reference) > 0
  assert sorted(fused) == sorted(reference)
  for name, value in reference.items():
    assert np.array_equal(np.asarray(fused[name]), np.asarray(value), equal_nan=True), name
  # the weights moved, and the reduced-precision copies hold the rounded master weights
  initial, _ = _train("op_by_op", monkeypatch, steps=0, **overrides)
  assert any(not np.array_equal(initial[name], value) for name, value in reference.items() if "kernel" in name)
  master = "Loss_Optimization/FP32-master-copy/"
  for name, value in fused.items():
    if name.startswith(master) and "/NovoGrad" not in name and "ExponentialMovingAverage" not in name:
      copy = fused[name[len(master):]]
      np.testing.assert_array_equal(copy, value.astype(copy.dtype))


def _kernel():
  ops = fused_update.fused_update_ops()
  assert ops is not None, "the fused NovoGrad kernel did not build"
  return ops


def test_a_read_before_the_update_keeps_the_old_weights(monkeypatch):
  monkeypatch.setenv(fused_update.ENABLE_ENV, "1")
  fused_update.reset()
  ops = _kernel()
  with tf.Graph().as_default(), tf.Session() as sess:
    var = tf.get_variable("w", initializer=np.arange(6, dtype=np.float32))
    accum = tf.get_variable("m", initializer=np.zeros(6, np.float32))
    shadow = tf.get_variable("s", initializer=np.arange(6, dtype=np.float32))
    copy = tf.get_variable("c", initializer=tf.cast(np.arange(6, dtype=np.float32), tf.bfloat16))
    before = tf.identity(var.read_value())
    with tf.control_dependencies([before]):
      update = ops.jasper_novo_grad_apply(var.handle, accum.handle, tf.ones([6]), 0.5, 0.1, 0.9, 0.01, 1.0,
                                          [shadow.handle], 0.75, [copy.handle], use_weight_decay=True,
                                          grad_averaging=False)
    with tf.control_dependencies([update]):
      after = tf.identity(var.read_value())
    sess.run(tf.global_variables_initializer())
    old, new = sess.run([before, after])
    momentum, average, rounded = sess.run([accum, shadow, copy])
  w = np.arange(6, dtype=np.float64)
  step = 1.0 * 0.5 + 0.01 * w
  np.testing.assert_array_equal(old, w)
  np.testing.assert_allclose(momentum, step, rtol=1e-6)
  np.testing.assert_allclose(new, w - 0.1 * step, rtol=1e-6)
  np.testing.assert_allclose(average, w - (w - new) * 0.25, rtol=1e-6)
  np.testing.assert_array_equal(rounded, new.astype(rounded.dtype))


def test_mismatched_shapes_are_refused_with_both_shapes(monkeypatch):
  monkeypatch.setenv(fused_update.ENABLE_ENV, "1")
  fused_update.reset()
  ops = _kernel()
  with tf.Graph().as_default(), tf.Session() as sess:
    var = tf.get_variable("w", initializer=np.zeros([2, 3], np.float32))
    accum = tf.get_variable("m", initializer=np.zeros([2, 3], np.float32))
    update = ops.jasper_novo_grad_apply(var.handle, accum.handle, tf.ones([3, 2]), 1.0, 0.1, 0.9, 0.0, 1.0, [],
                                        1.0, [], use_weight_decay=False, grad_averaging=False)
    sess.run(tf.global_variables_initializer())
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"var \[2,3\].*grad \[3,2\]"):
      sess.run(update)


def _fake_compiler(tmp_path, exit_code, message):
  script = tmp_path / "fake-cxx"
  script.write_text("#!/bin/sh\necho '{}' >&2\nexit {}\n".format(message, exit_code))
  script.chmod(script.stat().st_mode | stat.S_IEXEC)
  return str(script)


@pytest.mark.parametrize("compiler,reason", [
    (None, "no C++ compiler"),
    ("fake", "fake-cxx failed (exit 1): fused_novograd.cc:1: error: broken"),
])
def test_without_a_working_compiler_training_uses_the_op_by_op_update(compiler, reason, tmp_path, monkeypatch,
                                                                       capfd):
  cxx = str(tmp_path / "no-such-compiler") if compiler is None else _fake_compiler(
      tmp_path, 1, "fused_novograd.cc:1: error: broken")
  monkeypatch.setenv("CXX", cxx)
  monkeypatch.setenv(fused_update.CACHE_ENV, str(tmp_path / "ops"))
  monkeypatch.setenv(fused_update.ENABLE_ENV, "1")
  fused_update.reset()
  assert fused_update.fused_update_ops() is None
  assert fused_update.fused_update_ops() is None
  lines = [line for line in capfd.readouterr().err.splitlines() if "fused NovoGrad" in line]
  assert len(lines) == 1 and reason in lines[0] and "op-by-op update" in lines[0], lines
  # nothing half-built is left under the library's name
  assert not os.path.exists(tmp_path / "ops") or not any(
      name.endswith(".so") and not name.startswith(".") for name in os.listdir(tmp_path / "ops"))
  with tf.Graph().as_default() as graph:
    build_model(dtype="bfloat16", ema_decay=0.9)
    assert not any(node.op == "JasperNovoGradApply" for function in graph.as_graph_def().library.function
                   for node in function.node_def)
  fused_update.reset()


def test_the_library_is_built_once_per_compiler(tmp_path, monkeypatch):
  monkeypatch.setenv(fused_update.CACHE_ENV, str(tmp_path))
  path = fused_update.library_path("g++")
  assert path.startswith(str(tmp_path)) and path.endswith(".so")
  assert fused_update.library_path("g++") == path
  assert fused_update.library_path(_fake_compiler(tmp_path, 0, "another compiler 1.0")) != path

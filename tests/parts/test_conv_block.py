"""conv1d / batch_norm building blocks (spec 4.5) against numpy."""
import numpy as np
import pytest
import tensorflow as tf

from open_seq2seq.parts.conv_block import WEIGHT_CONSTANTS, batch_norm, conv1d, conv_bn_activation

tf.compat.v1.disable_eager_execution()
tf1 = tf.compat.v1


def _np_conv1d(x, kernel, stride, dilation, padding):
  B, T, _ = x.shape
  k = kernel.shape[0]
  span = dilation * (k - 1) + 1
  if padding == "SAME":
    out_len = -(-T // stride)
    total = max((out_len - 1) * stride + span - T, 0)
    left = total // 2
    x = np.pad(x, [(0, 0), (left, total - left), (0, 0)])
  else:
    out_len = (T - span) // stride + 1
  y = np.zeros((B, out_len, kernel.shape[2]))
  for t in range(out_len):
    for j in range(k):
      y[:, t] += x[:, t * stride + j * dilation] @ kernel[j]
  return y


@pytest.mark.parametrize("k,s,d,padding", [(3, 1, 1, "SAME"), (4, 1, 1, "SAME"), (5, 2, 1, "SAME"),
                                           (3, 3, 1, "SAME"), (3, 1, 2, "SAME"), (3, 1, 1, "VALID"),
                                           (4, 2, 1, "VALID"), (3, 1, 3, "VALID")])
def test_conv1d_matches_numpy(k, s, d, padding):
  x = np.random.RandomState(0).randn(2, 11, 3).astype(np.float32)
  with tf.Graph().as_default():
    xp = tf1.placeholder(tf.float32, [2, None, 3])
    y = conv1d(xp, 5, k, "conv11", stride=s, dilation=d, padding=padding)
    kernel_var = tf1.trainable_variables()
    assert [v.op.name for v in kernel_var] == ["conv11/kernel"]
    assert kernel_var[0].shape.as_list() == [k, 3, 5]
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      got, kernel = sess.run([y, kernel_var[0]], {xp: x})
  np.testing.assert_allclose(got, _np_conv1d(x.astype(np.float64), kernel, s, d, padding), rtol=1e-5, atol=1e-5)


def test_batch_norm_training_and_moving_average_updates():
  rng = np.random.RandomState(1)
  B, T, C = 3, 5, 4
  eps, momentum = 1e-3, 0.9
  batches = [(rng.randn(B, T, C) * [1.0, 2.0, 0.5, 3.0] + [0.5, -1.0, 2.0, 0.0]).astype(np.float32)
             for _ in range(2)]
  gamma_v = np.array([1.5, 0.5, 2.0, 1.0], np.float32)
  beta_v = np.array([0.1, -0.2, 0.0, 0.3], np.float32)
  with tf.Graph().as_default():
    xp = tf1.placeholder(tf.float32, [B, T, C])
    y = batch_norm(xp, "bn", training=True, momentum=momentum, epsilon=eps)
    update_ops = tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)
    assert len(update_ops) == 2
    var = {v.op.name: v for v in tf1.global_variables()}
    assert set(var) == {"bn/gamma", "bn/beta", "bn/moving_mean", "bn/moving_variance"}
    assert {v.op.name for v in tf1.trainable_variables()} == {"bn/gamma", "bn/beta"}
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      np.testing.assert_array_equal(sess.run(var["bn/moving_mean"]), np.zeros(C))
      np.testing.assert_array_equal(sess.run(var["bn/moving_variance"]), np.ones(C))
      var["bn/gamma"].load(gamma_v, sess)
      var["bn/beta"].load(beta_v, sess)
      mm, mv = np.zeros(C), np.ones(C)
      for x in batches:
        out = sess.run(y, {xp: x})
        flat = x.reshape(-1, C).astype(np.float64)
        mean, var_biased, var_unbiased = flat.mean(0), flat.var(0), flat.var(0, ddof=1)
        expected = (x - mean) / np.sqrt(var_biased + eps) * gamma_v + beta_v
        np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
        sess.run(update_ops, {xp: x})
        mm = momentum * mm + (1 - momentum) * mean
        mv = momentum * mv + (1 - momentum) * var_unbiased
        np.testing.assert_allclose(sess.run(var["bn/moving_mean"]), mm, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(sess.run(var["bn/moving_variance"]), mv, rtol=1e-5, atol=1e-6)


def test_batch_norm_inference_uses_moving_statistics():
  rng = np.random.RandomState(2)
  x = rng.randn(2, 6, 3).astype(np.float32)
  mm = np.array([0.5, -1.0, 0.2], np.float32)
  mv = np.array([2.0, 0.3, 1.2], np.float32)
  gamma_v = np.array([1.2, 0.7, 1.0], np.float32)
  beta_v = np.array([0.0, 0.5, -0.5], np.float32)
  with tf.Graph().as_default():
    xp = tf1.placeholder(tf.float32, [2, None, 3])
    y = batch_norm(xp, "bn", training=False, epsilon=1e-3)
    assert tf1.get_collection(tf1.GraphKeys.UPDATE_OPS) == []
    var = {v.op.name: v for v in tf1.global_variables()}
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      for name, value in [("moving_mean", mm), ("moving_variance", mv), ("gamma", gamma_v), ("beta", beta_v)]:
        var["bn/" + name].load(value, sess)
      out = sess.run(y, {xp: x})
  np.testing.assert_allclose(out, (x - mm) / np.sqrt(mv + 1e-3) * gamma_v + beta_v, rtol=1e-5, atol=1e-5)


def _np_batch_norm(x, params, eps):
  return (x - params["moving_mean"]) / np.sqrt(params["moving_variance"] + eps) * params["gamma"] + params["beta"]


@pytest.mark.parametrize("k,s,d,dense", [(3, 1, 2, True), (5, 2, 1, None), (3, 1, 1, False)])
def test_folded_batch_norm_block_matches_numpy_with_the_unfolded_variables(k, s, d, dense):
  """fold_batch_norm: relu(BN(conv(x)) + sum_i BN_i(conv1x1(res_i))) as numpy computes it, from variables named as
  the unfolded block's (so one checkpoint restores into both)."""
  rng = np.random.RandomState(3)
  eps, channels = 1e-3, 4
  x = rng.randn(2, 13, 3).astype(np.float32)
  residuals = {True: [rng.randn(2, 13, 3).astype(np.float32), rng.randn(2, 13, 5).astype(np.float32)],
               False: rng.randn(2, 13, 3).astype(np.float32), None: None}[dense]
  names = {}
  values = {}
  for fold in (False, True):
    with tf.Graph().as_default():
      xp = tf1.placeholder(tf.float32, [2, None, 3])
      res = None if residuals is None else (
          [tf1.constant(r) for r in residuals] if dense else tf1.constant(residuals))
      y = conv_bn_activation(xp, "conv21", channels, k, s, d, "SAME", tf.nn.relu, training=False, bn_momentum=0.9,
                             bn_epsilon=eps, residual_inputs=res, fold_batch_norm=fold)
      variables = {v.op.name: v for v in tf1.global_variables()}
      names[fold] = sorted(variables)
      assert bool(tf1.get_collection(WEIGHT_CONSTANTS)) == fold
      with tf1.Session() as sess:
        sess.run(tf1.global_variables_initializer())
        for name, var in variables.items():
          if name not in values:
            low = 0.5 if name.endswith(("gamma", "moving_variance")) else -0.5
            values[name] = rng.uniform(low, low + 1.0, var.shape.as_list()).astype(np.float32)
          var.load(values[name], sess)
        got = sess.run(y, {xp: x})
    params = {}
    for name, value in values.items():
      scope, leaf = name.rsplit("/", 1)
      params.setdefault(scope, {})[leaf] = value.astype(np.float64)
    expected = _np_batch_norm(_np_conv1d(x.astype(np.float64), params["conv21"]["kernel"], s, d, "SAME"),
                              params["conv21/bn"], eps)
    sources = [] if residuals is None else (residuals if dense else [residuals])
    for index, source in enumerate(sources):
      suffix = "_{}".format(index) if dense else ""
      branch = _np_conv1d(source.astype(np.float64), params["conv21/res" + suffix]["kernel"], 1, 1, "SAME")
      expected = expected + _np_batch_norm(branch, params["conv21/res_bn" + suffix], eps)
    np.testing.assert_allclose(got, np.maximum(expected, 0.0), rtol=1e-5, atol=1e-5)
  assert names[True] == names[False]


def test_folding_batch_norm_while_training_is_refused():
  with tf.Graph().as_default():
    xp = tf1.placeholder(tf.float32, [2, None, 3])
    with pytest.raises(ValueError, match="conv11: batch norm can only be folded .* inference"):
      conv_bn_activation(xp, "conv11", 4, 3, 1, 1, "SAME", tf.nn.relu, training=True, bn_momentum=0.9,
                         bn_epsilon=1e-3, fold_batch_norm=True)

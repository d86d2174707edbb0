"""TDNNEncoder (spec 4.3-4.5): length updates, conv masks, numpy re-computation in eval mode."""
import numpy as np
import pytest
import tensorflow as tf

from open_seq2seq.encoders import TDNNEncoder

tf.compat.v1.disable_eager_execution()
tf1 = tf.compat.v1

BN_EPS = 1e-3


def _layer(k=3, s=1, c=4, padding="SAME", repeat=1, d=1, **extra):
  layer = {"type": "conv1d", "repeat": repeat, "kernel_size": [k], "stride": [s], "num_channels": c,
           "padding": padding, "dilation": [d]}
  layer.update(extra)
  return layer


def _params(layers, use_conv_mask=True):
  return {"convnet_layers": layers, "dropout_keep_prob": 1.0, "activation_fn": tf.nn.relu,
          "use_conv_mask": use_conv_mask, "dtype": tf.float32, "bn_epsilon": BN_EPS}


def _run(layers, x_value, len_value, mode="eval", use_conv_mask=True, fetch_vars=False):
  with tf.Graph().as_default():
    tf1.set_random_seed(1)
    x = tf1.placeholder(tf.float32, [len(len_value), None, x_value.shape[-1]])
    src_length = tf1.placeholder(tf.int32, [len(len_value)])
    out = TDNNEncoder(_params(layers, use_conv_mask), None, mode=mode).encode({"source_tensors": [x, src_length]})
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      outputs, lengths = sess.run([out["outputs"], out["src_length"]], {x: x_value, src_length: len_value})
      variables = {v.op.name: sess.run(v) for v in tf1.global_variables()} if fetch_vars else None
  return outputs, lengths, variables


# (layers, T, input lengths, expected output lengths, expected output time size) -- hand computed:
#   SAME: ceil(len / s) ; VALID: (len - k) // s + 1, applied once per repeat.
LENGTH_CASES = [
    ([_layer(k=3, s=1)], 17, [17, 10, 1], [17, 10, 1], 17),
    ([_layer(k=11, s=2)], 17, [17, 16, 1], [9, 8, 1], 9),
    ([_layer(k=3, s=3)], 17, [17, 15, 4], [6, 5, 2], 6),
    ([_layer(k=3, s=1, padding="VALID")], 17, [17, 12, 3], [15, 10, 1], 15),
    ([_layer(k=5, s=2, padding="VALID")], 17, [17, 12, 9], [7, 4, 3], 7),
    ([_layer(k=3, s=1, padding="VALID", repeat=2)], 17, [17, 12, 5], [13, 8, 1], 13),
    ([_layer(k=3, s=2), _layer(k=3, s=2)], 17, [17, 14, 5], [5, 4, 2], 5),
    ([_layer(k=3, s=2), _layer(k=3, s=1, padding="VALID"), _layer(k=5, s=1, d=2)], 20, [20, 11, 7],
     [8, 4, 2], 8),
]


@pytest.mark.parametrize("layers,T,lengths,expected,expected_T", LENGTH_CASES)
def test_output_lengths(layers, T, lengths, expected, expected_T):
  x = np.random.RandomState(0).randn(len(lengths), T, 3).astype(np.float32)
  outputs, out_len, _ = _run(layers, x, np.array(lengths, np.int32))
  assert out_len.tolist() == expected
  assert outputs.shape == (len(lengths), expected_T, layers[-1]["num_channels"])


MASK_LAYERS = [
    _layer(k=5, s=2, c=6),
    _layer(k=3, s=1, c=6, repeat=2, residual=True, residual_dense=True),
    _layer(k=3, s=1, c=5, repeat=2, residual=True, residual_dense=True),
    _layer(k=3, s=1, c=4, padding="VALID"),
]


def _masked_inputs():
  rng = np.random.RandomState(3)
  T = 24
  lengths = np.array([24, 15, 9], np.int32)
  clean = rng.randn(3, T, 5).astype(np.float32)
  for b, n in enumerate(lengths):
    clean[b, n:] = 0.0
  dirty = clean.copy()
  for b, n in enumerate(lengths):
    dirty[b, n:] = 10.0 * rng.randn(T - n, 5)
  return clean, dirty, lengths


def test_conv_mask_makes_valid_frames_independent_of_padding():
  clean, dirty, lengths = _masked_inputs()
  out_clean, len_clean, _ = _run(MASK_LAYERS, clean, lengths, use_conv_mask=True)
  out_dirty, len_dirty, _ = _run(MASK_LAYERS, dirty, lengths, use_conv_mask=True)
  assert len_clean.tolist() == len_dirty.tolist() == [10, 6, 3]
  for b, n in enumerate(len_clean):
    np.testing.assert_allclose(out_dirty[b, :n], out_clean[b, :n], rtol=1e-5, atol=1e-5)


def test_without_conv_mask_padding_leaks_into_valid_frames():
  clean, dirty, lengths = _masked_inputs()
  out_clean, len_clean, _ = _run(MASK_LAYERS, clean, lengths, use_conv_mask=False)
  out_dirty, _, _ = _run(MASK_LAYERS, dirty, lengths, use_conv_mask=False)
  np.testing.assert_allclose(out_dirty[0], out_clean[0], rtol=1e-5, atol=1e-5)  # full-length row
  leak = max(np.max(np.abs(out_dirty[b, :n] - out_clean[b, :n])) for b, n in enumerate(len_clean) if b > 0)
  assert leak > 1e-3


# ---------------------------------------------------------------- numpy re-computation (eval mode)

def _np_conv1d_same(x, kernel, stride=1, dilation=1):
  """TF "SAME" conv (spec 4.5): out = ceil(T/s); total pad max((out-1)s + d(k-1) + 1 - T, 0), left floor(total/2)."""
  B, T, _ = x.shape
  k = kernel.shape[0]
  out_len = -(-T // stride)
  total = max((out_len - 1) * stride + dilation * (k - 1) + 1 - T, 0)
  left = total // 2
  xp = np.pad(x, [(0, 0), (left, total - left), (0, 0)])
  y = np.zeros((B, out_len, kernel.shape[2]), np.float64)
  for t in range(out_len):
    for j in range(k):
      y[:, t] += xp[:, t * stride + j * dilation] @ kernel[j]
  return y


def _mask(x, lengths):
  m = (np.arange(x.shape[1])[None, :] < np.asarray(lengths)[:, None]).astype(x.dtype)
  return x * m[:, :, None]


@pytest.mark.parametrize("k,s,d", [(5, 2, 1), (3, 1, 2), (4, 3, 1)])
def test_single_block_matches_numpy(k, s, d):
  rng = np.random.RandomState(5)
  T = 13
  lengths = np.array([13, 8], np.int32)
  x = rng.randn(2, T, 3).astype(np.float32)
  outputs, out_len, variables = _run([_layer(k=k, s=s, c=4, d=d)], x, lengths, fetch_vars=True)
  kernel = variables["w2l_encoder/conv11/kernel"]
  assert kernel.shape == (k, 3, 4)
  # eval mode BN with moving mean 0, variance 1, gamma 1, beta 0 -> x / sqrt(1 + eps)
  expected = np.maximum(_np_conv1d_same(_mask(x.astype(np.float64), lengths), kernel, s, d)
                        / np.sqrt(1.0 + BN_EPS), 0.0)
  assert out_len.tolist() == [(n + s - 1) // s for n in lengths]
  np.testing.assert_allclose(outputs, expected, rtol=1e-5, atol=1e-5)


def test_dense_residual_block_matches_numpy():
  """Block 1 plain; block 2 residual dense with R=2: out = relu(BN(conv22(h)) + BN(res_0(x2)))."""
  rng = np.random.RandomState(6)
  T = 10
  lengths = np.array([10, 6], np.int32)
  x = rng.randn(2, T, 3).astype(np.float32)
  layers = [_layer(k=3, s=1, c=4), _layer(k=3, s=1, c=4, repeat=2, residual=True, residual_dense=True)]
  outputs, out_len, v = _run(layers, x, lengths, fetch_vars=True)
  scale = 1.0 / np.sqrt(1.0 + BN_EPS)
  def relu(a):
    return np.maximum(a, 0.0)
  h1 = relu(_np_conv1d_same(_mask(x.astype(np.float64), lengths), v["w2l_encoder/conv11/kernel"]) * scale)
  block2_in = _mask(h1, lengths)
  h21 = relu(_np_conv1d_same(block2_in, v["w2l_encoder/conv21/kernel"]) * scale)
  main = _np_conv1d_same(_mask(h21, lengths), v["w2l_encoder/conv22/kernel"]) * scale
  res = _np_conv1d_same(block2_in, v["w2l_encoder/conv22/res_0/kernel"]) * scale
  expected = relu(main + res)
  assert v["w2l_encoder/conv22/res_0/kernel"].shape == (1, 4, 4)
  assert out_len.tolist() == [10, 6]
  np.testing.assert_allclose(outputs, expected, rtol=1e-5, atol=1e-5)


def test_train_mode_inverted_dropout():
  """Train mode: each activation is either dropped (0) or scaled by 1/keep (spec 4.4 step 4.3.6);
  eval mode applies no dropout and is deterministic."""
  rng = np.random.RandomState(7)
  x = rng.randn(2, 12, 3).astype(np.float32)
  lengths = np.array([12, 12], np.int32)
  with tf.Graph().as_default():
    tf1.set_random_seed(2)
    xp = tf1.placeholder(tf.float32, [2, None, 3])
    lp = tf1.placeholder(tf.int32, [2])
    drop = TDNNEncoder(_params([_layer(k=3, s=1, c=64, dropout_keep_prob=0.5)]), None,
                       mode="train").encode({"source_tensors": [xp, lp]})["outputs"]
    with tf1.variable_scope(tf1.get_variable_scope(), reuse=True):
      keep_all = TDNNEncoder(_params([_layer(k=3, s=1, c=64, dropout_keep_prob=1.0)]), None,
                             mode="train").encode({"source_tensors": [xp, lp]})["outputs"]
      evaluated = TDNNEncoder(_params([_layer(k=3, s=1, c=64, dropout_keep_prob=0.5)]), None,
                              mode="eval").encode({"source_tensors": [xp, lp]})["outputs"]
    assert len(tf1.trainable_variables()) == 3
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      d, k = sess.run([drop, keep_all], {xp: x, lp: lengths})
      e1 = sess.run(evaluated, {xp: x, lp: lengths})
      e2 = sess.run(evaluated, {xp: x, lp: lengths})
  np.testing.assert_array_equal(e1, e2)
  active = k > 1e-3
  kept = np.isclose(d, 2.0 * k, rtol=1e-4, atol=1e-5)
  dropped = d == 0.0
  assert np.all(kept | dropped)
  frac_dropped = np.mean(dropped[active])
  assert 0.35 < frac_dropped < 0.65

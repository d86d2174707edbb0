"""FullyConnectedCTCDecoder (spec 4.7): dense layer, time-major logits, greedy CTC decoding (the decoding itself:
test_greedy_ctc.py)."""
import numpy as np
import tensorflow as tf

from open_seq2seq.decoders import FullyConnectedCTCDecoder

tf.compat.v1.disable_eager_execution()
tf1 = tf.compat.v1


def numpy_greedy(logits_tbv, lengths):
  blank = logits_tbv.shape[-1] - 1
  out = []
  for b, n in enumerate(lengths):
    best = np.argmax(logits_tbv[:n, b], axis=-1)
    seq, prev = [], None
    for c in best:
      if c != prev and c != blank:
        seq.append(int(c))
      prev = c
    out.append(seq)
  return out


def _sparse_to_lists(sp, batch):
  rows = [[] for _ in range(batch)]
  for (r, _), v in zip(sp.indices, sp.values):
    rows[r].append(int(v))
  return rows


def test_decoder_logits_are_time_major_dense_projection():
  rng = np.random.RandomState(1)
  B, T, C, V = 2, 7, 6, 5
  h = rng.randn(B, T, C).astype(np.float32)
  lengths = np.array([7, 4], np.int32)
  with tf.Graph().as_default():
    hp = tf1.placeholder(tf.float32, [B, None, C])
    lp = tf1.placeholder(tf.int32, [B])
    out = FullyConnectedCTCDecoder({"tgt_vocab_size": V}, None, mode="eval").decode(
        {"encoder_output": {"outputs": hp, "src_length": lp}})
    var = {v.op.name: v for v in tf1.trainable_variables()}
    assert sorted(var) == ["fully_connected_ctc_decoder/fully_connected/bias",
                           "fully_connected_ctc_decoder/fully_connected/kernel"]
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      var["fully_connected_ctc_decoder/fully_connected/bias"].load(rng.randn(V).astype(np.float32), sess)
      logits, src_len, decoded, kernel, bias = sess.run(
          [out["logits"], out["src_length"], out["outputs"][0],
           var["fully_connected_ctc_decoder/fully_connected/kernel"],
           var["fully_connected_ctc_decoder/fully_connected/bias"]], {hp: h, lp: lengths})
  expected = np.transpose(h.astype(np.float64) @ kernel + bias, [1, 0, 2])
  assert logits.shape == (T, B, V)
  np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-5)
  assert src_len.tolist() == [7, 4]
  assert _sparse_to_lists(decoded, B) == numpy_greedy(expected, lengths)


def test_graph_node_names_for_export():
  """Spec 4.7 / 9.1: the export output nodes are
  ForwardPass/fully_connected_ctc_decoder/fully_connected/BiasAdd and ForwardPass/fully_connected_ctc_decoder/logits."""
  with tf.Graph().as_default() as graph:
    hp = tf1.placeholder(tf.float32, [2, None, 8])
    lp = tf1.placeholder(tf.int32, [2])
    with tf1.variable_scope("ForwardPass"):
      FullyConnectedCTCDecoder({"tgt_vocab_size": 29}, None, mode="infer").decode(
          {"encoder_output": {"outputs": hp, "src_length": lp}})
    ops = {op.name for op in graph.get_operations()}
  assert "ForwardPass/fully_connected_ctc_decoder/logits" in ops
  bias_adds = sorted(n for n in ops if n.endswith("BiasAdd"))
  assert "ForwardPass/fully_connected_ctc_decoder/fully_connected/BiasAdd" in ops, \
      "BiasAdd op names found: {}".format(bias_adds)

"""Variable names, shapes, order and parameter counts of the Jasper configs (spec 4.6, 4.9)."""
import os
import runpy

import numpy as np
import pytest
import tensorflow as tf

from open_seq2seq.decoders import FullyConnectedCTCDecoder
from tests.models.reference_variables import TABLE_10X5, TABLE_5X3, expected_trainables

tf.compat.v1.disable_eager_execution()
tf1 = tf.compat.v1

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CFG_5X3 = os.path.join(ROOT, "configs/speech2text/jasper5x3_LibriSpeech_nvgrad_masks_1p.py")
CFG_10X5 = os.path.join(ROOT, "configs/speech2text/jasper10x5_LibriSpeech_nvgrad.py")

def _build(path):
  graph = tf.Graph()
  with graph.as_default():
    cfg = runpy.run_path(path, init_globals={"tf": tf1})
    p = cfg["base_params"]
    enc_params = dict(p["encoder_params"], dtype=tf.float32)
    x = tf1.placeholder(tf.float32, [2, None, 64])
    src_length = tf1.placeholder(tf.int32, [2])
    with tf1.variable_scope("ForwardPass"):
      enc = p["encoder"](enc_params, None, mode="train").encode({"source_tensors": [x, src_length]})
      FullyConnectedCTCDecoder(dict(p["decoder_params"], tgt_vocab_size=29, dtype=tf.float32), None,
                               mode="train").decode({"encoder_output": enc})
    trainable = [(v.op.name, v.shape.as_list()) for v in tf1.trainable_variables()]
    global_names = [v.op.name for v in tf1.global_variables()]
  return trainable, global_names


@pytest.fixture(scope="module")
def built_5x3():
  return _build(CFG_5X3)


@pytest.fixture(scope="module")
def built_10x5():
  return _build(CFG_10X5)


def _count(names_shapes):
  return sum(int(np.prod(s)) for _, s in names_shapes)


def test_generated_lists_match_spec_totals():
  assert len(expected_trainables(TABLE_5X3)) == 101
  assert _count(expected_trainables(TABLE_5X3)) == 109709085
  assert len(expected_trainables(TABLE_10X5)) == 326
  assert _count(expected_trainables(TABLE_10X5)) == 332632349


def test_5x3_trainable_variables_exact_order(built_5x3):
  trainable, _ = built_5x3
  expected = expected_trainables(TABLE_5X3)
  for i, (got, want) in enumerate(zip(trainable, expected)):
    assert got == want, "trainable variable #{}: got {}, expected {}".format(i, got, want)
  assert len(trainable) == len(expected) == 101


def test_5x3_parameter_count(built_5x3):
  assert _count(built_5x3[0]) == 109709085


def test_10x5_trainable_variables_and_count(built_10x5):
  trainable, _ = built_10x5
  assert len(trainable) == 326
  assert _count(trainable) == 332632349
  assert trainable == expected_trainables(TABLE_10X5)


@pytest.mark.parametrize("which", ["5x3", "10x5"])
def test_global_variables_add_bn_moving_statistics(which, built_5x3, built_10x5):
  trainable, global_names = built_5x3 if which == "5x3" else built_10x5
  trainable_names = [n for n, _ in trainable]
  assert len(global_names) == len(set(global_names))
  bn_scopes = [n[:-len("/gamma")] for n in trainable_names if n.endswith("/gamma")]
  expected_extra = {s + suffix for s in bn_scopes for suffix in ("/moving_mean", "/moving_variance")}
  assert set(global_names) - set(trainable_names) == expected_extra
  assert set(trainable_names) <= set(global_names)


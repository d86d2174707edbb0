"""Float32 training graphs hold the reference's variables (issue 15): with ``loss_scaling`` given as a string
the reference builds the automatic loss scaler whatever the dtype, so its float32 checkpoints carry the
scaler's state; the list here is derived from the spec's rules (reference_variables.py), not from the code."""
import copy
import os
import runpy

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from open_seq2seq.data.speech2text.synthetic import SyntheticSpeech2TextDataLayer
from open_seq2seq.models import Speech2Text
from tests.models.reference_variables import TABLE_5X3, expected_float32_training_variables
from tests.optimizers.speech_model_fixture import NUM_FEATURES, VOCAB_SIZE, build_model

tf.disable_eager_execution()

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CFG_5X3 = os.path.join(ROOT, "configs/speech2text/jasper5x3_LibriSpeech_nvgrad_masks_1p.py")
# speech_model_fixture.BASE_PARAMS's encoder as a spec 4.6 layer table
FIXTURE_TABLE = [(1, 5, 32, False), (2, 5, 32, True), (1, 1, 48, False)]


def _described(variables):
  return [(v.op.name, v.shape.as_list(), v.dtype.base_dtype.name) for v in variables]


def _5x3_training_graph_variables(dtype, loss_scaling):
  """Global variables of the 5x3 config's training graph (synthetic batches in place of LibriSpeech)."""
  cfg = runpy.run_path(CFG_5X3, init_globals={"tf": tf})
  params = copy.deepcopy(cfg["base_params"])
  params.update(dtype=dtype, loss_scaling=loss_scaling, logdir="", batch_size_per_gpu=2,
                data_layer=SyntheticSpeech2TextDataLayer,
                data_layer_params={"num_audio_features": 64, "num_frames": 32, "label_length": 4, "num_batches": 1,
                                   "vocab_file": cfg["base_params"]["data_layer_params"]["vocab_file"]})
  with tf.Graph().as_default():
    Speech2Text(params, mode="train").compile()
    return _described(tf.global_variables())


def test_5x3_float32_training_variables_equal_the_reference_list():
  got = _5x3_training_graph_variables(tf.float32, "Backoff")
  expected = [(name, shape, dtype) for name, shape, dtype in expected_float32_training_variables(TABLE_5X3)]
  assert len(expected) == 373
  for index, (have, want) in enumerate(zip(got, expected)):
    assert have == want, "global variable #{}: got {}, expected {}".format(index, have, want)
  assert len(got) == len(expected)


def test_a_fixed_loss_scale_builds_no_scaler_in_float32():
  """A float ``loss_scaling`` (the reference's default 1.0) makes no scaler, there as here."""
  got = _5x3_training_graph_variables(tf.float32, 1.0)
  assert not [name for name, _, _ in got if name.startswith("Loss_Optimization/Variable")]
  assert len(got) == 370


def _train_and_save(path, **overrides):
  """One float32 training step of the fixture model, saved to ``path``; returns every variable's value."""
  with tf.Graph().as_default():
    model = build_model(dtype=tf.float32, **overrides)
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      sess.run(model.get_data_layer().iterator.initializer)
      sess.run(model.train_op)
      tf.train.Saver().save(sess, path)
      return {v.op.name: sess.run(v) for v in tf.global_variables()}


def _reference_named_graph(variables):
  """A graph holding exactly ``variables`` ((name, shape, dtype name), the reference's names and order),
  created with tf.get_variable as the reference's layers do."""
  for name, shape, dtype in variables:
    tf.get_variable(name, shape=shape, dtype=getattr(tf, dtype), initializer=tf.zeros_initializer(),
                    use_resource=False)


def test_float32_checkpoint_restores_into_the_reference_graph(tmp_path):
  path = str(tmp_path / "ours")
  values = _train_and_save(path, loss_scaling="Backoff")
  reference = expected_float32_training_variables(FIXTURE_TABLE, NUM_FEATURES, VOCAB_SIZE + 1)
  assert sorted(values) == sorted(name for name, _, _ in reference)
  with tf.Graph().as_default():
    _reference_named_graph(reference)
    with tf.Session() as sess:
      tf.train.Saver().restore(sess, path)  # every variable, by exact name, shape and dtype
      restored = {v.op.name: sess.run(v) for v in tf.global_variables()}
  for name in values:
    np.testing.assert_array_equal(restored[name], values[name], err_msg=name)
  # the scaler is inert in float32: its initial state (spec 5.6), and one step was taken
  assert restored["Loss_Optimization/Variable"] == 0 and restored["Loss_Optimization/Variable_1"] == -1
  assert restored["Loss_Optimization/Variable_2"] == 2.0 ** 14 and restored["global_step"] == 1


def test_a_reference_float32_checkpoint_restores_into_this_graph(tmp_path):
  reference = expected_float32_training_variables(FIXTURE_TABLE, NUM_FEATURES, VOCAB_SIZE + 1)
  rng = np.random.default_rng(0)
  path = str(tmp_path / "reference")
  with tf.Graph().as_default():
    _reference_named_graph(reference)
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      written = {}
      for var in tf.global_variables():
        value = rng.integers(0, 100, var.shape.as_list()).astype(var.dtype.base_dtype.as_numpy_dtype)
        var.load(value, sess)
        written[var.op.name] = value
      tf.train.Saver().save(sess, path)
  with tf.Graph().as_default():
    build_model(dtype=tf.float32, loss_scaling="Backoff")
    with tf.Session() as sess:
      tf.train.Saver().restore(sess, path)
      restored = {v.op.name: sess.run(v) for v in tf.global_variables()}
  assert sorted(restored) == sorted(written)
  for name, value in written.items():
    np.testing.assert_array_equal(restored[name], value, err_msg=name)


@pytest.mark.parametrize("algorithm,count", [("Backoff", 3), ("LogMax", 7)])
def test_float32_training_never_moves_the_scaler(tmp_path, algorithm, count):
  """Built for the layout only: after a float32 step the state is still its initial value."""
  values = _train_and_save(str(tmp_path / "ckpt"), loss_scaling=algorithm)
  state = sorted(name for name in values if name.startswith("Loss_Optimization/Variable"))
  assert len(state) == count
  initial = {"Backoff": {"Variable": 0, "Variable_1": -1, "Variable_2": 2.0 ** 14},
             "LogMax": {"Variable": 0, "Variable_1": 1.0, "Variable_2": 0.0, "Variable_3": 0.0, "Variable_4": 0.0,
                        "Variable_5": 1.0, "Variable_6": 1.0}}[algorithm]
  for suffix, value in initial.items():
    assert values["Loss_Optimization/" + suffix] == value, suffix

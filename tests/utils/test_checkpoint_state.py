"""repair_checkpoint_state with the logdir spelled absolute or relative to the working directory: complete
checkpoints are kept and listed relative to the logdir, an unreadable newest one is dropped."""
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from open_seq2seq.utils.checkpoint import listed_checkpoints, repair_checkpoint_state

tf.disable_eager_execution()


def save_checkpoints(logdir, steps):
  os.makedirs(logdir)
  with tf.Graph().as_default():
    weight = tf.get_variable("weight", initializer=np.arange(4, dtype=np.float32))
    step = tf.train.get_or_create_global_step()
    saver = tf.train.Saver(max_to_keep=5, save_relative_paths=True)
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      for value in steps:
        sess.run([weight.assign(weight + 1.0), step.assign(value)])
        saver.save(sess, os.path.join(logdir, "model.ckpt"), global_step=value)


@pytest.mark.parametrize("spelling", ["absolute", "relative"])
def test_repair_keeps_complete_checkpoints(tmp_path, monkeypatch, spelling):
  monkeypatch.chdir(tmp_path)
  logdir = str(tmp_path / "runs" / "logdir") if spelling == "absolute" else os.path.join("runs", "logdir")
  save_checkpoints(logdir, [100, 200])

  assert repair_checkpoint_state(logdir) == os.path.join(logdir, "model.ckpt-200")
  assert listed_checkpoints(logdir) == [os.path.join(logdir, "model.ckpt-200"), os.path.join(logdir, "model.ckpt-100")]
  assert tf.train.latest_checkpoint(logdir) == os.path.join(logdir, "model.ckpt-200")

  os.remove(os.path.join(logdir, "model.ckpt-200.data-00000-of-00001"))
  assert repair_checkpoint_state(logdir) == os.path.join(logdir, "model.ckpt-100")
  assert listed_checkpoints(logdir) == [os.path.join(logdir, "model.ckpt-100")]
  with open(os.path.join(logdir, "checkpoint")) as handle:
    state = handle.read()
  assert 'model_checkpoint_path: "model.ckpt-100"' in state and "runs" not in state
  # Another working directory reads the same state.
  monkeypatch.chdir(os.path.join(tmp_path, "runs"))
  assert tf.train.latest_checkpoint(os.path.join(str(tmp_path), "runs", "logdir")).endswith(
      os.path.join("runs", "logdir", "model.ckpt-100"))
  reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(os.path.join(str(tmp_path), "runs", "logdir")))
  np.testing.assert_array_equal(reader.get_tensor("weight"), np.arange(4, dtype=np.float32) + 1.0)


def test_repair_leaves_a_sound_state_as_it_is(tmp_path):
  logdir = str(tmp_path / "logdir")
  save_checkpoints(logdir, [100, 200])
  state = os.path.join(logdir, "checkpoint")
  before = (os.stat(state).st_mtime_ns, open(state).read())
  assert repair_checkpoint_state(logdir) == os.path.join(logdir, "model.ckpt-200")
  assert (os.stat(state).st_mtime_ns, open(state).read()) == before


def test_repair_of_a_state_from_another_machine_lists_this_directory(tmp_path, capsys):
  """A logdir copied with its state file of absolute paths resumes from its own files, and the rewritten state
  names them relative to it; the damaged newest checkpoint stays on disk."""
  logdir = str(tmp_path / "logdir")
  save_checkpoints(logdir, [100, 200])
  with open(os.path.join(logdir, "checkpoint"), "w") as handle:
    handle.write('model_checkpoint_path: "/elsewhere/logdir/model.ckpt-200"\n'
                 'all_model_checkpoint_paths: "/elsewhere/logdir/model.ckpt-100"\n'
                 'all_model_checkpoint_paths: "/elsewhere/logdir/model.ckpt-200"\n')
  os.truncate(os.path.join(logdir, "model.ckpt-200.data-00000-of-00001"), 5)
  assert tf.train.latest_checkpoint(logdir) is None  # TensorFlow itself finds nothing to resume
  assert repair_checkpoint_state(logdir) == os.path.join(logdir, "model.ckpt-100")
  out = capsys.readouterr().out
  assert "lists paths of another machine (/elsewhere/logdir/model.ckpt-200)" in out
  assert "skipping damaged checkpoint {}".format(os.path.join(logdir, "model.ckpt-200")) in out
  with open(os.path.join(logdir, "checkpoint")) as handle:
    assert handle.read() == ('model_checkpoint_path: "model.ckpt-100"\n'
                             'all_model_checkpoint_paths: "model.ckpt-100"\n')
  assert tf.train.latest_checkpoint(logdir) == os.path.join(logdir, "model.ckpt-100")
  assert os.path.getsize(os.path.join(logdir, "model.ckpt-200.data-00000-of-00001")) == 5
  assert sorted(name for name in os.listdir(logdir) if name.startswith(".")) == []

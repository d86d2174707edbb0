"""The helpers of the training loop with logic of their own (open_seq2seq/training/train.py): the translation of
a failed write into LogdirWriteError naming the newest intact checkpoint, the loss scaler's state a float32
checkpoint may lack, and the refusal to resume with ema_decay from a checkpoint without moving averages. The
checkpoints are written by the tests."""
import errno
import os
import types

import pytest
import tensorflow.compat.v1 as tf

from open_seq2seq.optimizers.automatic_loss_scaler import AutomaticLossScaler
from open_seq2seq.training.train import (LogdirWriteError, _check_resume_has_moving_averages,
                                         _inert_scaler_state_missing_from, _write_failure)
from open_seq2seq.utils.checkpoint_fit import EMA_SUFFIX
from tests.training.fake_model import WEIGHT_NAME

tf.disable_eager_execution()


@pytest.fixture(autouse=True)
def fresh_graph():
  with tf.Graph().as_default():
    yield


def save_checkpoint(directory, names, step):
  """``directory``/model.ckpt-``step`` holding a float 1 under each of ``names``, written in a graph of its own."""
  with tf.Graph().as_default():
    for name in names:
      tf.Variable(1.0, name=name)
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      return tf.train.Saver().save(sess, os.path.join(str(directory), "model.ckpt"), global_step=step)


@pytest.fixture(name="logdir")
def fixture_logdir(tmp_path):
  """A logdir with intact checkpoints at steps 10 and 20."""
  for step in (10, 20):
    save_checkpoint(tmp_path, [WEIGHT_NAME], step)
  return str(tmp_path)


# A failed write as each layer reports it, and the first line of its text, which the error quotes.
SAVE_OP_TEXT = "model.ckpt-30_temp/part-00000-of-00001.data-00000-of-00001.tempstate1; No space left on device"
WRITE_FAILURES = {
    "disk full (Python)": (OSError(errno.ENOSPC, "No space left on device"), "[Errno 28] No space left on device"),
    "disk full (TensorFlow)": (
        tf.errors.ResourceExhaustedError(None, None, SAVE_OP_TEXT + "\n\t [[{{node save/SaveV2}}]]"), SAVE_OP_TEXT),
    "file size limit": (OSError(errno.EFBIG, "File too large"), "[Errno 27] File too large"),
    "permissions": (PermissionError(errno.EACCES, "Permission denied"), "[Errno 13] Permission denied"),
    "read-only": (OSError(errno.EROFS, "Read-only file system"), "[Errno 30] Read-only file system"),
    "quota": (tf.errors.UnknownError(None, None, "Disk quota exceeded"), "Disk quota exceeded"),
}


@pytest.mark.parametrize("failure", sorted(WRITE_FAILURES))
def test_a_failed_write_names_the_newest_checkpoint(logdir, failure):
  error, first_line = WRITE_FAILURES[failure]
  translated = _write_failure(error, logdir)
  assert isinstance(translated, LogdirWriteError)
  assert str(translated) == "Cannot write to logdir {} ({}). Earlier checkpoints are intact; newest: {}".format(
      logdir, first_line, os.path.join(logdir, "model.ckpt-20"))


def test_a_failed_write_removes_the_interrupted_checkpoint_files(logdir):
  open(os.path.join(logdir, "model.ckpt-30.index.tempstate123"), "w").close()
  os.makedirs(os.path.join(logdir, "model.ckpt-30_temp"))
  before = set(os.listdir(logdir))
  _write_failure(OSError(errno.ENOSPC, "No space left on device"), logdir)
  assert set(os.listdir(logdir)) == before - {"model.ckpt-30.index.tempstate123", "model.ckpt-30_temp"}


def test_a_damaged_newest_checkpoint_is_not_named(logdir):
  with open(os.path.join(logdir, "model.ckpt-20.data-00000-of-00001"), "r+b") as handle:
    handle.truncate(1)  # a write cut short by the full disk
  translated = _write_failure(OSError(errno.ENOSPC, "No space left on device"), logdir)
  assert str(translated).endswith("newest: " + os.path.join(logdir, "model.ckpt-10"))


def test_a_failed_write_before_the_first_checkpoint(tmp_path):
  translated = _write_failure(OSError(errno.ENOSPC, "No space left on device"), str(tmp_path))
  assert str(translated).endswith("newest: none yet")


@pytest.mark.parametrize("error, has_logdir", [
    (tf.errors.InvalidArgumentError(None, None, "Incompatible shapes: [2] vs. [3]"), True),
    (OSError(errno.ENOENT, "No such file or directory"), True),
    (OSError(errno.ENOSPC, "No space left on device"), False),  # a worker other than rank 0: it has no logdir
], ids=["op error", "other OSError", "no logdir"])
def test_other_failures_are_left_alone(logdir, error, has_logdir):
  leftover = os.path.join(logdir, "model.ckpt-30.index.tempstate123")
  open(leftover, "w").close()
  assert _write_failure(error, logdir if has_logdir else None) is None
  assert os.path.exists(leftover)


def scaler_state():
  """The Backoff scaler's state, built as optimize_loss builds it (Loss_Optimization/Variable, _1, _2)."""
  with tf.variable_scope("Loss_Optimization"):
    AutomaticLossScaler("Backoff")
  return ["Loss_Optimization/Variable", "Loss_Optimization/Variable_1", "Loss_Optimization/Variable_2"]


def float32_model(dtype=tf.float32):
  return types.SimpleNamespace(params={"dtype": dtype})


def test_a_float32_checkpoint_without_the_scaler_state_resumes_without_it(tmp_path, capsys):
  state = scaler_state()
  checkpoint = save_checkpoint(tmp_path, [WEIGHT_NAME, state[0]], 10)
  missing = _inert_scaler_state_missing_from(float32_model(), checkpoint)
  assert [v.op.name for v in missing] == state[1:]
  assert ("Checkpoint {} predates the loss scaler's state in float32 training graphs: {} start from their initial "
          "values (float32 never reads them)\n".format(checkpoint, ", ".join(state[1:])) in capsys.readouterr().out)


@pytest.mark.parametrize("dtype, stored", [(tf.float32, "all"), ("mixed", "weight only")])
def test_no_state_is_left_out_when_stored_or_read(tmp_path, dtype, stored, capsys):
  # Mixed precision reads the scale: a checkpoint without it must fail the resume check, not start from 2**14.
  state = scaler_state()
  checkpoint = save_checkpoint(tmp_path, [WEIGHT_NAME] + (state if stored == "all" else []), 10)
  assert _inert_scaler_state_missing_from(float32_model(dtype), checkpoint) == []
  assert capsys.readouterr().out == ""


def ema_model(ema_decay):
  return types.SimpleNamespace(ema_decay=ema_decay)


def test_resuming_with_ema_decay_needs_moving_averages_in_the_checkpoint(tmp_path):
  checkpoint = save_checkpoint(tmp_path, [WEIGHT_NAME], 10)
  with pytest.raises(ValueError) as raised:
    _check_resume_has_moving_averages(ema_model(0.999), checkpoint)
  assert str(raised.value) == (
      "ema_decay=0.999 but checkpoint {} holds no moving averages of the weights (trained without ema_decay): "
      "resume it with --ema_decay=0, or train with ema_decay in a new logdir".format(checkpoint))


@pytest.mark.parametrize("ema_decay, names", [(0.999, [WEIGHT_NAME, WEIGHT_NAME + EMA_SUFFIX]),
                                              (0.0, [WEIGHT_NAME])], ids=["averages stored", "no ema_decay"])
def test_resuming_is_allowed_when_the_averages_match(tmp_path, ema_decay, names):
  checkpoint = save_checkpoint(tmp_path, names, 10)
  _check_resume_has_moving_averages(ema_model(ema_decay), checkpoint)


def test_a_fresh_run_has_nothing_to_check():
  _check_resume_has_moving_averages(ema_model(0.999), None)

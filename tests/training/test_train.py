"""train() (open_seq2seq/training/train.py) run in this process on a one-weight fake model: training to the last
step and its checkpoint (w = 1 + 0.5 * steps), the resume from it, a run already finished, gradient accumulation
(iter_size), the end of a finite data set, a worker other than rank 0, the errors it translates (a failed
write, an unreadable utterance) and those it lets through, train_eval's history, a stop signal and the
timing lines. The expected weights, steps and counts follow by hand from FakeTrainModel's update rule."""
import errno
import os
import signal
import time
import types

import pytest
import tensorflow.compat.v1 as tf

from open_seq2seq.training import train as train_module
from open_seq2seq.training.stop_signals import TrainingInterrupted
from open_seq2seq.training.train import LogdirWriteError, train
from tests.training.fake_model import WEIGHT_NAME, FakeDataLayer, FakeModel, FakeTrainModel, FakeWorkers

tf.disable_eager_execution()


class RunsSeen(tf.train.SessionRunHook):
  """Counts the runs the session's hooks see; at step ``at_step`` (the global step a run reaches) calls
  ``action()``."""

  def __init__(self, at_step=None, action=None):
    self.runs = 0
    self._at_step, self._action = at_step, action

  def begin(self):
    self._global_step = tf.train.get_global_step()

  def before_run(self, run_context):
    return tf.train.SessionRunArgs(self._global_step)

  def after_run(self, run_context, run_values):
    self.runs += 1
    if run_values.results + 1 == self._at_step:
      self._action()


def run_train(logdir, max_steps, values=(1.0, 2.0, 3.0), hook=None, eval_model_values=None, hvd=None,
              data_options=None, **params):
  """train() of a FakeTrainModel (batches of 1 utterance) built in a graph of its own; returns its result."""
  with tf.Graph().as_default():
    model = FakeTrainModel(list(values), 1, dict(params, logdir=logdir, max_steps=max_steps),
                           **(data_options or {}))
    model.hvd = hvd
    eval_model = None
    if eval_model_values is not None:
      eval_model = FakeModel(FakeDataLayer(eval_model_values, batch_size=2))
    custom_hooks = [lambda train_model, eval_model: hook] if hook is not None else []
    return train(model, eval_model, custom_hooks=custom_hooks, stop_grace_seconds=600)


def stored(logdir):
  """(global_step, w, batches_seen) of the newest checkpoint TensorFlow's own state file names."""
  reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(logdir))
  return (reader.get_tensor("global_step"), reader.get_tensor(WEIGHT_NAME),
          reader.get_tensor("Loss_Optimization/batches_seen"))


def test_trains_to_the_last_step_and_checkpoints_it(tmp_path, capsys):
  logdir = str(tmp_path)
  hook = RunsSeen()
  assert run_train(logdir, 4, hook=hook, save_checkpoint_steps=3) is None
  assert hook.runs == 4
  assert stored(logdir) == (4, 1.0 + 4 * 0.5, 4)
  assert os.path.exists(os.path.join(logdir, "model.ckpt-3.index"))
  assert "Finished training" in capsys.readouterr().out


def test_a_resumed_run_continues_from_the_checkpoint(tmp_path, capsys):
  logdir = str(tmp_path)
  run_train(logdir, 4, save_checkpoint_steps=2)
  resumed = RunsSeen()
  run_train(logdir, 6, hook=resumed, save_checkpoint_steps=2)
  assert resumed.runs == 2
  assert stored(logdir) == (6, 1.0 + 6 * 0.5, 6)
  finished = RunsSeen()
  run_train(logdir, 6, hook=finished, save_checkpoint_steps=2)
  assert finished.runs == 0
  assert "Training already reached its last step (6); nothing to do" in capsys.readouterr().out


def test_accumulation_runs_read_data_without_advancing_the_step(tmp_path):
  # iter_size=3: 3 runs per update, 2 of them accumulation-only; the hooks see the update runs.
  logdir = str(tmp_path)
  hook = RunsSeen()
  run_train(logdir, 2, hook=hook, save_checkpoint_steps=2, iter_size=3)
  assert hook.runs == 2
  assert stored(logdir) == (2, 1.0 + 2 * 0.5, 6)


def test_the_end_of_a_finite_data_set_ends_training(tmp_path, capsys):
  logdir = str(tmp_path)
  run_train(logdir, 10, values=(1.0, 2.0, 3.0), data_options={"repeat": False}, save_checkpoint_steps=100)
  assert stored(logdir) == (3, 1.0 + 3 * 0.5, 3)
  assert "Finished training" in capsys.readouterr().out


def test_a_worker_other_than_rank_0_trains_from_scratch_and_writes_nothing(tmp_path, monkeypatch, capsys):
  logdir = str(tmp_path)
  run_train(logdir, 2, save_checkpoint_steps=1)
  before = {name: os.path.getmtime(os.path.join(logdir, name)) for name in os.listdir(logdir)}
  capsys.readouterr()
  configs = []
  real_session_config = train_module.session_config

  def recording_session_config(params, mode, workers):
    configs.append((mode, workers))
    return real_session_config(params, mode, workers)

  monkeypatch.setattr(train_module, "session_config", recording_session_config)
  workers = FakeWorkers(1, others={0: None})
  hook = RunsSeen()
  run_train(logdir, 3, hook=hook, hvd=workers, save_checkpoint_steps=1, print_loss_steps=1, save_summaries_steps=1)
  # Rank 0 restores and broadcasts; rank 1 does not read the step-2 checkpoint, so it runs all 3 steps.
  assert hook.runs == 3
  assert {name: os.path.getmtime(os.path.join(logdir, name)) for name in os.listdir(logdir)} == before
  assert "global_step:" not in capsys.readouterr().out
  assert configs == [("train", workers)]  # the session takes this worker's settings (on GPUs: its own device)


def test_a_failed_write_is_reported_with_the_newest_checkpoint(tmp_path):
  logdir = str(tmp_path)

  def fill_the_disk():
    raise OSError(errno.ENOSPC, "No space left on device")

  with pytest.raises(LogdirWriteError) as raised:
    run_train(logdir, 10, hook=RunsSeen(at_step=3, action=fill_the_disk), save_checkpoint_steps=2)
  assert str(raised.value) == ("Cannot write to logdir {} ([Errno 28] No space left on device). Earlier checkpoints "
                               "are intact; newest: {}".format(logdir, os.path.join(logdir, "model.ckpt-2")))
  assert isinstance(raised.value.__cause__, OSError)


def test_a_write_reported_out_of_range_is_a_failed_write_not_the_end_of_the_data(tmp_path):
  def hit_the_file_size_limit():
    raise tf.errors.OutOfRangeError(None, None, "model.ckpt-3_temp/part-00000-of-00001.data-00000-of-00001"
                                    ".tempstate1; File too large")

  with pytest.raises(LogdirWriteError, match=r"\(model.ckpt-3_temp/.*; File too large\)"):
    run_train(str(tmp_path), 10, hook=RunsSeen(at_step=3, action=hit_the_file_size_limit), save_checkpoint_steps=2)


def test_other_failures_pass_through_unchanged(tmp_path):
  def fail():
    raise tf.errors.InvalidArgumentError(None, None, "Incompatible shapes")

  with pytest.raises(tf.errors.InvalidArgumentError, match="Incompatible shapes"):
    run_train(str(tmp_path), 10, hook=RunsSeen(at_step=2, action=fail))


def test_an_unreadable_utterance_is_reported_by_the_data_layer(tmp_path):
  error = ValueError("fake_manifest.csv row 2: cannot read the audio")
  with pytest.raises(ValueError) as raised:
    run_train(str(tmp_path), 10, data_options={"fail_on": 2.0, "input_error": error})
  assert raised.value is error and isinstance(raised.value.__cause__, tf.errors.OpError)


def test_train_eval_needs_eval_steps(tmp_path):
  with pytest.raises(ValueError, match="train_eval mode needs 'eval_steps' in the config"):
    run_train(str(tmp_path), 4, eval_model_values=[1.0, 2.0])


def test_train_eval_returns_the_evaluations(tmp_path):
  # Eval set mean 1.5; after step s, w = 1 + 0.5 s.
  history = run_train("", 4, eval_model_values=[1.0, 2.0], eval_steps=2)
  assert [(step, loss) for step, loss, _ in history] == [(2, pytest.approx(1.5 * 2.0)),
                                                         (4, pytest.approx(1.5 * 3.0))]


def test_a_stop_signal_ends_training_with_a_final_checkpoint(tmp_path):
  logdir = str(tmp_path)

  def stop():
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.05)  # the Python-level handler runs at the next bytecode boundary of the main thread

  with pytest.raises(TrainingInterrupted) as raised:
    run_train(logdir, 100, hook=RunsSeen(at_step=2, action=stop), save_checkpoint_steps=50)
  assert raised.value.exit_code == 128 + signal.SIGTERM
  assert str(raised.value) == ("Training stopped by SIGTERM; final checkpoint {} (global step 2). Resume with "
                               "--continue_learning".format(os.path.join(logdir, "model.ckpt-2")))
  assert stored(logdir) == (2, 1.0 + 2 * 0.5, 2)


def test_timing_leaves_out_the_steps_before_bench_start(tmp_path, monkeypatch, capsys):
  ticks = iter(range(1000))
  monkeypatch.setattr(train_module, "time", types.SimpleNamespace(time=lambda: 0.25 * next(ticks)))
  # Objects per step: the utterance lengths 1, 2, 3, 4; bench_start=2 times steps 3 and 4, one tick (0.25 s) each.
  run_train(str(tmp_path), 4, values=(1.0, 2.0, 3.0, 4.0), data_options={"lengths": [1, 2, 3, 4]}, bench_start=2)
  out = capsys.readouterr().out
  assert "Avg time per step: 0.250s" in out and "Avg objects per second: {:.3f}".format((3 + 4) / 0.5) in out


def test_too_few_steps_for_timing(tmp_path, capsys):
  run_train(str(tmp_path), 2, bench_start=2)
  assert "Not enough steps for benchmarking" in capsys.readouterr().out

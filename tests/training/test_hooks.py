"""The session hooks of the training loop (open_seq2seq/training/hooks.py), each run by a real MonitoredSession
over a tiny graph: ProgressHook's line and CSV row for scripted step times and losses (FPS, mean loss, elapsed
and ETA computed by hand), a skipped step, the unalignable count; NonFiniteLossHook's divergence and zero-gradient
stops; PrintSamplesHook's cadence; RunEvaluationHook's cadence, history, TensorBoard values and best checkpoints."""
import csv
import glob
import math
import os
import types

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from open_seq2seq.losses.ctc_loss import UNALIGNABLE_UTTERANCES
from open_seq2seq.optimizers.optimize_loss import NONFINITE_GRADIENTS, ZERO_GRADIENTS
from open_seq2seq.training import hooks
from open_seq2seq.training.eval_history import read_evaluations
from open_seq2seq.training.hooks import (NonFiniteLossError, NonFiniteLossHook, PrintSamplesHook, ProgressHook,
                                         RunEvaluationHook)
from tests.training.fake_model import FakeDataLayer, FakeModel, FakeTrainModel, WEIGHT_NAME

tf.disable_eager_execution()


@pytest.fixture(autouse=True)
def fresh_graph():
  with tf.Graph().as_default():
    yield


class ScriptedTraining:
  """A training graph whose every run is scripted: the loss, the unalignable count and the gradient flags are
  fed, and global_step advances by ``advance`` (0: a step skipped for non-finite gradients). It starts at
  ``first_step`` (a resumed run); learning rate 0.25."""

  def __init__(self, batch_size_per_gpu=4, iter_size=1, last_step=100, first_step=0, loss_scaling=None):
    self.params = {"batch_size_per_gpu": batch_size_per_gpu, "iter_size": iter_size, "loss_scaling": loss_scaling}
    self.last_step = last_step
    self.global_step = tf.get_variable("global_step", [], tf.int64, tf.constant_initializer(first_step),
                                       trainable=False,
                                       collections=[tf.GraphKeys.GLOBAL_VARIABLES, tf.GraphKeys.GLOBAL_STEP])
    self.loss = tf.placeholder(tf.float32, [], "loss")
    self.learning_rate = tf.constant(0.25)
    self.advance = tf.placeholder_with_default(tf.constant(1, tf.int64), [], "advance")
    self.unalignable = tf.placeholder_with_default(0, [], "unalignable")
    self.nonfinite = tf.placeholder_with_default(False, [], "nonfinite_gradients")
    self.zero = tf.placeholder_with_default(False, [], "zero_gradients")
    tf.add_to_collection(UNALIGNABLE_UTTERANCES + "/train", self.unalignable)
    tf.add_to_collection(NONFINITE_GRADIENTS, self.nonfinite)
    tf.add_to_collection(ZERO_GRADIENTS, self.zero)
    # The hooks fetch global_step in the same run: its read comes first, as in the real graph.
    with tf.control_dependencies([tf.get_default_graph().as_graph_element(self.global_step)]):
      self.train_op = self.global_step.assign_add(self.advance)

  def run(self, hook, losses, clock=None, times=None, **scripted):
    """One run per loss; ``scripted`` lists, per run, the values of advance, unalignable, nonfinite or zero;
    ``clock["now"]`` is set to ``times[i]`` before run i."""
    with tf.train.SingularMonitoredSession(hooks=[hook]) as sess:
      for i, loss in enumerate(losses):
        if times is not None:
          clock["now"] = times[i]
        feed = {self.loss: loss}
        feed.update({getattr(self, name): values[i] for name, values in scripted.items()})
        sess.run(self.train_op, feed)


@pytest.fixture(name="clock")
def fixture_clock(monkeypatch):
  """The hooks' time.time(), set by the test."""
  clock = {"now": 0.0}
  monkeypatch.setattr(hooks, "time", types.SimpleNamespace(time=lambda: clock["now"]))
  return clock


def progress_lines(out):
  return [line[len("*** "):] for line in out.splitlines() if line.startswith("*** global_step:")]


def test_progress_line_from_step_times_and_losses(clock, capsys):
  # 8 utterances a run, 2 runs an update: 16 per step. The first step (warm-up) is not timed: its end at t=1000
  # starts the clock. Step 2 at 1002: 1 step in 2 s, FPS 16 / 2 = 8, ETA 2 s / 1 step * 998 steps = 1996 s.
  # Step 4 at 1010: 2 steps in 8 s, FPS 32 / 8 = 4, elapsed 10 s, ETA 10 / 3 * 996 = 3320 s; mean loss 10 / 4.
  training = ScriptedTraining(batch_size_per_gpu=8, iter_size=2, last_step=1000)
  training.run(ProgressHook(training, every_steps=2), [4.0, 2.0, 1.0, 3.0], clock, times=[1000, 1002, 1003, 1010])
  assert progress_lines(capsys.readouterr().out) == [
      "global_step:      2, loss:  2.000, mean_loss:  3.000,  FPS:     8.0 utt/s, elapsed: 0:00:02, ETA: 0:33:16",
      "global_step:      4, loss:  3.000, mean_loss:  2.500,  FPS:     4.0 utt/s, elapsed: 0:00:10, ETA: 0:55:20"]


def test_progress_csv_holds_the_same_figures(clock, tmp_path):
  progress_csv = str(tmp_path / "train_progress.csv")
  training = ScriptedTraining(batch_size_per_gpu=8, iter_size=2, last_step=1000)
  training.run(ProgressHook(training, 2, progress_csv), [4.0, 2.0, 1.0, 3.0], clock, times=[1000, 1002, 1003, 1010])
  with open(progress_csv, newline="") as handle:
    rows = list(csv.reader(handle))
  assert rows[0] == ProgressHook.COLUMNS
  assert [[float(value) for value in row] for row in rows[1:]] == [[2, 2.0, 3.0, 0.25, 8.0, 2.0, 0],
                                                                   [4, 3.0, 2.5, 0.25, 4.0, 10.0, 0]]


def test_a_resumed_csv_keeps_its_older_columns(clock, tmp_path):
  # A file written before the "unalignable" column existed gets rows of its own columns.
  progress_csv = tmp_path / "train_progress.csv"
  progress_csv.write_text("global_step,loss,mean_loss,learning_rate,fps,elapsed_s\n2,9.0,9.0,0.25,1.0,3.0\n")
  training = ScriptedTraining(first_step=2)
  training.run(ProgressHook(training, 2, str(progress_csv)), [4.0, 2.0], clock, times=[10.0, 14.0])
  # Step 4: 1 step of 4 utterances in 4 s.
  assert progress_csv.read_text().splitlines()[1:] == ["2,9.0,9.0,0.25,1.0,3.0", "4,2.0,3.0,0.25,1.0,4.0"]


def test_a_skipped_step_prints_no_line_for_a_step_not_reached(clock, capsys):
  # Run 3's gradients were skipped: global_step stays 2, so its would-be step 3 prints nothing; run 4 reaches 3.
  # Its line covers the 3 runs since the first (12 utterances in 10 s), and ETA counts the 2 steps done:
  # 10 s / 2 * 7 remaining steps.
  training = ScriptedTraining(last_step=10)
  training.run(ProgressHook(training, 3), [1.0, 2.0, 3.0, 4.0], clock, times=[100, 104, 106, 110],
               advance=[1, 1, 0, 1])
  assert progress_lines(capsys.readouterr().out) == [
      "global_step:      3, loss:  4.000, mean_loss:  2.500,  FPS:     1.2 utt/s, elapsed: 0:00:10, ETA: 0:00:35"]


def test_a_resume_on_a_printing_step_has_no_timing_yet(clock, capsys):
  training = ScriptedTraining(last_step=20, first_step=9)
  training.run(ProgressHook(training, 10), [5.0], clock, times=[50])
  assert progress_lines(capsys.readouterr().out) == [
      "global_step:     10, loss:  5.000, mean_loss:  5.000,  FPS:     0.0 utt/s, elapsed: 0:00:00, ETA: 0:00:00"]


def test_unalignable_utterances_are_counted_per_line_and_announced_once(clock, tmp_path, capsys):
  progress_csv = str(tmp_path / "train_progress.csv")
  training = ScriptedTraining(batch_size_per_gpu=4)
  training.run(ProgressHook(training, 2, progress_csv), [1.0] * 4, clock, times=[0, 1, 2, 3],
               unalignable=[0, 1, 2, 0])
  out = capsys.readouterr().out
  # 2 runs of 4 utterances per line.
  assert [line.split(", unalignable")[1] for line in progress_lines(out)] == [" utterances: 1 of 8",
                                                                             " utterances: 2 of 8"]
  assert out.count("Warning:") == 1 and "Warning: 1 of 4 utterances at global step 2 cannot be aligned" in out
  with open(progress_csv, newline="") as handle:
    assert [row["unalignable"] for row in csv.DictReader(handle)] == ["1", "2"]


def diverging_message(count, step):
  return ("Training diverged: non-finite loss or gradients for {} consecutive steps, the last at global step {}; "
          "stopping. Lower the learning rate or check the data; the checkpoints hold the weights from before the "
          "first of these steps".format(count, step))


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_consecutive_non_finite_losses_stop_training(bad, capsys):
  training = ScriptedTraining()
  with pytest.raises(NonFiniteLossError) as raised:
    training.run(NonFiniteLossHook(training, 3), [1.0, 1.0, bad, bad, bad, 1.0])
  assert str(raised.value) == diverging_message(3, 5)
  out = capsys.readouterr().out
  assert "Warning: non-finite training loss {} at global step 3 (1 of 3 allowed in a row)\n".format(bad) in out
  assert "Warning: non-finite training loss {} at global step 4 (2 of 3 allowed in a row)\n".format(bad) in out


def test_a_finite_loss_restarts_the_count():
  training = ScriptedTraining()
  training.run(NonFiniteLossHook(training, 3), [math.nan, math.nan, 1.0, math.nan, math.nan, 2.0])


def test_skipped_non_finite_gradients_count_too(capsys):
  # optimize_loss skipped the updates: global_step stays 0, every run is global step 1.
  training = ScriptedTraining()
  with pytest.raises(NonFiniteLossError) as raised:
    training.run(NonFiniteLossHook(training, 3), [1.0] * 3, nonfinite=[True] * 3, advance=[0] * 3)
  assert str(raised.value) == diverging_message(3, 1)
  assert ("Warning: non-finite gradients at global step 1 (2 of 3 allowed in a row); the weights were not updated"
          in capsys.readouterr().out)


def test_all_zero_gradients_with_a_positive_loss_stop_training():
  training = ScriptedTraining(loss_scaling=1024.0)
  with pytest.raises(NonFiniteLossError) as raised:
    training.run(NonFiniteLossHook(training, 3), [2.0, 3.0, 2.5], zero=[True] * 3)
  assert str(raised.value) == (
      "Training cannot learn: every gradient was exactly 0 for 3 consecutive steps while the loss was positive "
      "(2.500 at global step 3); a fixed loss_scaling=1024.0 that overflows or underflows the reduced-precision "
      "gradients? (use 'Backoff')")


@pytest.mark.parametrize("losses, zero", [([0.0] * 4, [True] * 4), ([2.0] * 4, [True, True, False, True])],
                         ids=["zero loss", "interrupted"])
def test_zero_gradients_of_a_zero_loss_or_not_in_a_row_go_on(losses, zero):
  training = ScriptedTraining()
  training.run(NonFiniteLossHook(training, 3), losses, zero=zero)


def run_training(model, hook, runs, skipped=()):
  """``runs`` runs of FakeTrainModel's train_op under ``hook``; the runs numbered (1-based) in ``skipped`` skip
  their update as a step with non-finite gradients does."""
  data_layer = model.get_data_layer()
  scaffold = tf.train.Scaffold(local_init_op=tf.group(tf.local_variables_initializer(),
                                                      data_layer.iterator.initializer))
  with tf.train.SingularMonitoredSession(hooks=[hook], scaffold=scaffold) as sess:
    for run in range(1, runs + 1):
      sess.run(model.train_op, {model.skip_update_ph: run in skipped})


def test_samples_are_printed_every_n_steps_from_the_run_that_reaches_them():
  # Run k reads utterance k - 1 with w = 1 + 0.5 (k - 1): steps 3 and 6 print utterances 2 and 5.
  model = FakeTrainModel(list(range(100)), batch_size=1, params={"max_steps": 100})
  run_training(model, PrintSamplesHook(model, 3), runs=7)
  assert model.printed == [([2.0], [2.0 * 2.0]), ([5.0], [5.0 * 3.5])]


# The validation set of the evaluation hook's tests: mean 3.
EVAL_VALUES = [1.0, 2.0, 3.0, 4.0, 5.0]


def wer_of(outputs):
  """A WER for the fake: 0 when w = 4 (mean output 12), growing away from it."""
  return abs(np.mean(outputs) - 12.0) / 12.0


def evaluation_setup(every_steps, last_step, logdir=None, **eval_options):
  model = FakeTrainModel([1.0], batch_size=1, params={"max_steps": last_step})
  eval_model = FakeModel(FakeDataLayer(EVAL_VALUES, batch_size=2), wer=wer_of, **eval_options)
  return model, RunEvaluationHook(eval_model, every_steps, last_step, logdir, num_checkpoints=5,
                                  save_best=logdir is not None)


def evaluation_at(step):
  """(step, mean eval loss, WER) after ``step`` updates: w = 1 + 0.5 step, mean loss 3 w."""
  weight = 1.0 + 0.5 * step
  return step, pytest.approx(3.0 * weight), pytest.approx(wer_of([3.0 * weight]))


def test_evaluation_every_n_steps_and_at_the_last_step():
  model, hook = evaluation_setup(every_steps=3, last_step=7)
  run_training(model, hook, runs=7)
  assert hook.history == [evaluation_at(3), evaluation_at(6), evaluation_at(7)]


def test_a_last_step_on_the_cadence_is_evaluated_once():
  model, hook = evaluation_setup(every_steps=3, last_step=6)
  run_training(model, hook, runs=6)
  assert [step for step, _, _ in hook.history] == [3, 6]


def test_evaluations_are_logged_and_the_best_checkpoints_kept(tmp_path):
  # WER at steps 3, 6, 7 (w = 2.5, 4, 4.5): 0.375, 0, 0.125; only the first two improve on the best so far.
  logdir = str(tmp_path)
  model, hook = evaluation_setup(every_steps=3, last_step=7, logdir=logdir)
  run_training(model, hook, runs=7)
  with open(os.path.join(logdir, "eval_history.csv"), newline="") as handle:
    rows = list(csv.reader(handle))
  assert rows[0] == ["global_step", "eval_loss", "eval_wer"]
  assert [[float(value) for value in row] for row in rows[1:]] == [[3, 7.5, 0.375], [6, 12.0, 0.0], [7, 13.5, 0.125]]
  logged = [(event.step, value.tag, value.simple_value)
            for path in glob.glob(os.path.join(logdir, "events.out.tfevents.*"))
            for event in tf.train.summary_iterator(path) for value in event.summary.value]
  assert sorted(logged) == [(3, "Eval WER", 0.375), (3, "eval_loss", 7.5), (6, "Eval WER", 0.0),
                            (6, "eval_loss", 12.0), (7, "Eval WER", 0.125), (7, "eval_loss", 13.5)]
  best = sorted(os.path.basename(path)[:-len(".index")]
                for path in glob.glob(os.path.join(logdir, "best_models", "*.index")))
  assert best == ["val_wer=0.0000-step-6-6", "val_wer=0.3750-step-3-3"]
  stored = tf.train.load_checkpoint(os.path.join(logdir, "best_models", "val_wer=0.0000-step-6-6"))
  assert stored.get_tensor(WEIGHT_NAME) == 4.0 and stored.get_tensor("global_step") == 6


def test_a_skipped_step_on_the_cadence_is_evaluated_once_at_the_step_reached():
  # Run 3 skips its update (non-finite gradients): global_step stays 2 and run 4 reaches step 3.
  model, hook = evaluation_setup(every_steps=3, last_step=10)
  run_training(model, hook, runs=4, skipped=(3,))
  assert hook.history == [evaluation_at(3)]


def test_an_eval_model_without_the_unalignable_count_is_evaluated_during_training():
  model, hook = evaluation_setup(every_steps=2, last_step=2, unalignable_above=None)
  run_training(model, hook, runs=2)
  assert hook.history == [evaluation_at(2)]


def test_eval_history_written_before_the_header_existed_still_reads(tmp_path):
  (tmp_path / "eval_history.csv").write_text("1000,38.5,0.7002\n2000,28.1,0.5662\n")
  assert read_evaluations(str(tmp_path)) == [(1000, 38.5, 0.7002), (2000, 28.1, 0.5662)]
  (tmp_path / "eval_history.csv").write_text("1000,38.5\n")
  with pytest.raises(ValueError, match="eval_history.csv: expected rows of global_step,eval_loss,eval_wer"):
    read_evaluations(str(tmp_path))

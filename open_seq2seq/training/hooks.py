"""Session hooks of the training loop: progress line, printed samples, periodic evaluation, divergence stop."""
import csv
import os
import time

import numpy as np
import tensorflow.compat.v1 as tf

from open_seq2seq.losses.ctc_loss import UNALIGNABLE_UTTERANCES
from open_seq2seq.optimizers.optimize_loss import NONFINITE_GRADIENTS, ZERO_GRADIENTS
from open_seq2seq.training.eval_history import append_evaluation
from open_seq2seq.training.iterate import iterate_data
from open_seq2seq.utils.logging import deco_print, format_duration


class ProgressHook(tf.train.SessionRunHook):
  """Every ``every_steps`` global steps prints
  ``global_step: N, loss: X, mean_loss: Y, FPS: Z utt/s, elapsed: H:MM:SS, ETA: H:MM:SS``
  (FPS, the reference's name, = utterances per second over the steps since the previous line; the first step, which
  includes graph warm-up, is not timed) and appends the same figures to ``progress_csv``.

  Utterances the loss could not align (label longer than the model's output frames; they count 0 in the
  loss) are counted over the same window: the line then ends with ``unalignable utterances: K of N`` and
  the CSV's ``unalignable`` column holds K, so a batch of nothing but such utterances never passes for a
  loss of 0. The first step that has any is also announced at once.
  """
  COLUMNS = ["global_step", "loss", "mean_loss", "learning_rate", "fps", "elapsed_s", "unalignable"]

  def __init__(self, model, every_steps, progress_csv=None):
    self._model = model
    self._every = every_steps
    self._csv = progress_csv
    self._batch_size = model.params["batch_size_per_gpu"] * model.params["iter_size"]
    self._loss_sum = 0.0
    self._loss_count = 0
    self._utterances_per_run = model.params["batch_size_per_gpu"]
    self._unalignable = 0
    self._runs = 0
    self._unalignable_seen = False

  def begin(self):
    """Resets the timing state; writes the CSV header of a new progress file (an existing one keeps its columns)."""
    self._global_step = tf.train.get_global_step()
    self._start = None
    self._first_step = None
    self._window_start = None
    self._window_steps = 0
    counts = tf.get_collection(UNALIGNABLE_UTTERANCES + "/train")
    self._unalignable_count = counts[0] if counts else tf.constant(0)
    self._columns = self.COLUMNS
    if self._csv and os.path.exists(self._csv):
      with open(self._csv, newline="") as handle:
        # A resumed run keeps the columns of the file it appends to (older files lack "unalignable").
        self._columns = next(csv.reader(handle), None) or self.COLUMNS
    elif self._csv:
      with open(self._csv, "w", newline="") as handle:
        csv.writer(handle).writerow(self.COLUMNS)

  def before_run(self, run_context):
    """Fetches the global step, learning rate, loss and unalignable-utterance count."""
    return tf.train.SessionRunArgs([self._global_step, self._model.learning_rate, self._model.loss,
                                    self._unalignable_count])

  def after_run(self, run_context, run_values):
    """Accumulates the loss; every ``every`` global steps (when the step was not skipped) prints the progress
    (loss, mean loss, FPS, elapsed, ETA) and appends it to the CSV."""
    now = time.time()
    step_before, learning_rate, loss_value, unalignable = run_values.results
    global_step = step_before + 1
    loss_value = float(loss_value)
    self._loss_sum += loss_value
    self._loss_count += 1
    self._count_unalignable(int(unalignable), global_step)
    if self._start is None:
      self._start = now
      self._first_step = step_before
      self._window_start = now
      self._window_steps = 0
    else:
      self._window_steps += 1
    if global_step % self._every != 0:
      return
    if run_context.session.run(self._global_step) != global_step:
      return  # a mixed-precision step with non-finite gradients was skipped: global_step did not advance
    window_seconds = now - self._window_start
    fps = self._batch_size * self._window_steps / window_seconds if window_seconds > 0 and self._window_steps else 0.0
    elapsed = now - self._start
    done = global_step - self._first_step - 1
    remaining = self._model.last_step - global_step
    eta = elapsed / done * remaining if done > 0 else 0.0
    mean_loss = self._loss_sum / self._loss_count
    line = "global_step: {:6d}, loss: {:6.3f}, mean_loss: {:6.3f},  FPS: {:7.1f} utt/s, elapsed: {}, ETA: {}".format(
        global_step, loss_value, mean_loss, fps, format_duration(elapsed), format_duration(eta))
    if self._unalignable:
      line += ", unalignable utterances: {} of {}".format(self._unalignable, self._utterances_per_run * self._runs)
    deco_print(line)
    if self._csv:
      row = {"global_step": global_step, "loss": loss_value, "mean_loss": mean_loss, "learning_rate": learning_rate,
             "fps": fps, "elapsed_s": round(elapsed, 3), "unalignable": self._unalignable}
      with open(self._csv, "a", newline="") as handle:
        csv.writer(handle).writerow([row.get(column, "") for column in self._columns])
    self._window_start = now
    self._window_steps = 0
    self._unalignable = 0
    self._runs = 0

  def _count_unalignable(self, count, global_step):
    self._unalignable += count
    self._runs += 1
    if count and not self._unalignable_seen:
      self._unalignable_seen = True
      deco_print("Warning: {} of {} utterances at global step {} cannot be aligned (label longer than the model's "
                 "output frames, counting repeated characters twice); they get loss 0 and no gradient. Check "
                 "max_duration, the encoder's total stride and the transcripts; the progress lines count them"
                 .format(count, self._utterances_per_run, global_step))


class PrintSamplesHook(tf.train.SessionRunHook):
  """Every ``every_steps`` prints the first utterance's reference and prediction with its WER."""

  def __init__(self, model, every_steps):
    self._model = model
    self._every = every_steps
    self._fetches = [model.get_data_layer().input_tensors, model.output]

  def begin(self):
    """Looks up the global step."""
    self._global_step = tf.train.get_global_step()
    self._next_step = None

  def before_run(self, run_context):
    """Fetches the samples' tensors too on steps that print them."""
    if self._next_step is not None and self._next_step % self._every == 0:
      return tf.train.SessionRunArgs([self._global_step, self._fetches])
    return tf.train.SessionRunArgs([self._global_step, []])

  def after_run(self, run_context, run_values):
    """Prints the samples when they were fetched."""
    step_before, fetched = run_values.results
    if fetched:
      self._model.maybe_print_logs(fetched[0], fetched[1])
    self._next_step = step_before + 2


class RunEvaluationHook(tf.train.SessionRunHook):
  """Evaluates ``eval_model`` every ``every_steps`` steps and at the last step; logs ``Eval WER`` and
  ``eval_loss`` to TensorBoard and keeps the checkpoints with the best WER in ``logdir/best_models``."""

  def __init__(self, eval_model, every_steps, last_step, logdir, num_checkpoints, save_best):
    self._model = eval_model
    self._every = every_steps
    self._last_step = last_step
    self._logdir = logdir
    self._save_best = save_best and bool(logdir)
    self._num_checkpoints = num_checkpoints
    self._best_wer = float("inf")
    self.history = []

  def begin(self):
    """Looks up the global step and creates the best-model saver and summary writer."""
    self._global_step = tf.train.get_global_step()
    self._saver = tf.train.Saver(max_to_keep=self._num_checkpoints, save_relative_paths=True) \
        if self._save_best else None
    self._writer = tf.summary.FileWriterCache.get(self._logdir) if self._logdir else None

  def before_run(self, run_context):
    """Fetches the global step."""
    return tf.train.SessionRunArgs(self._global_step)

  def after_run(self, run_context, run_values):
    """Runs the evaluation every ``every`` steps and at the last step, once the global step advanced."""
    step = run_values.results + 1
    if step % self._every != 0 and step != self._last_step:
      return
    if run_context.session.run(self._global_step) != step:
      return  # a step with non-finite gradients was skipped: this step is evaluated once it is reached
    self.run_evaluation(run_context.session, step)

  def run_evaluation(self, sess, step):
    """Evaluates the eval model, records ``(step, loss, wer)``, writes the summaries and history, and saves a
    best model when the WER improves."""
    deco_print("Running evaluation on a validation set:")
    results, loss = iterate_data(self._model, sess, compute_loss=True, verbose=False)
    deco_print("Validation loss: {:.4f} ".format(loss), offset=4)
    metrics = self._model.finalize_evaluation(results)
    wer = metrics["Eval WER"]
    self.history.append((step, loss, wer))
    if self._writer is not None:
      summary = tf.Summary(value=[tf.Summary.Value(tag="Eval WER", simple_value=wer),
                                  tf.Summary.Value(tag="eval_loss", simple_value=loss)])
      self._writer.add_summary(summary, step)
      self._writer.flush()
      append_evaluation(self._logdir, step, loss, wer)
    if self._saver is not None and wer < self._best_wer:
      self._best_wer = wer
      path = os.path.join(self._logdir, "best_models", "val_wer={:.4f}-step-{}".format(wer, step))
      self._saver.save(sess, path, global_step=step)


class NonFiniteLossError(RuntimeError):
  """Training diverged: the loss stayed NaN/Inf for the configured number of consecutive steps."""


class NonFiniteLossHook(tf.train.SessionRunHook):
  """Stops training with ``NonFiniteLossError`` naming the step once ``max_consecutive`` consecutive steps
  had a NaN/Inf training loss or (float32 and fixed loss scales) non-finite gradients. optimize_loss never
  applies non-finite gradients, so the checkpoints written meanwhile hold the last good weights; no final
  checkpoint is written on this error. As many consecutive steps whose gradients are all exactly 0 while the
  loss is positive stop it too: such a run cannot learn (a fixed ``loss_scaling`` that overflows or
  underflows the reduced-precision gradients), though every value is finite."""

  def __init__(self, model, max_consecutive):
    self._model = model
    self._max_consecutive = max_consecutive
    self._consecutive = 0
    self._consecutive_zero = 0

  def begin(self):
    """Looks up the global step and the non-finite and zero gradient flags."""
    self._global_step = tf.train.get_global_step()
    flags = tf.get_collection(NONFINITE_GRADIENTS)
    self._nonfinite_gradients = flags[0] if flags else tf.constant(False)
    zero = tf.get_collection(ZERO_GRADIENTS)
    self._zero_gradients = zero[0] if zero else tf.constant(False)

  def before_run(self, run_context):
    """Fetches the global step, loss and gradient flags."""
    return tf.train.SessionRunArgs([self._global_step, self._model.loss, self._nonfinite_gradients,
                                    self._zero_gradients])

  def after_run(self, run_context, run_values):
    """Warns on a non-finite loss or gradients; raises NonFiniteLossError after too many in a row."""
    step_before, loss_value, nonfinite_gradients, zero_gradients = run_values.results
    self._check_zero_gradients(np.isfinite(loss_value) and loss_value > 0 and zero_gradients, step_before + 1,
                               loss_value)
    if np.isfinite(loss_value) and not nonfinite_gradients:
      self._consecutive = 0
      return
    self._consecutive += 1
    what = "training loss {}".format(loss_value) if not np.isfinite(loss_value) else "gradients"
    deco_print("Warning: non-finite {} at global step {} ({} of {} allowed in a row){}".format(
        what, step_before + 1, self._consecutive, self._max_consecutive,
        "; the weights were not updated" if nonfinite_gradients else ""))
    if self._consecutive >= self._max_consecutive:
      raise NonFiniteLossError(
          "Training diverged: non-finite loss or gradients for {} consecutive steps, the last at global step {}; "
          "stopping. Lower the learning rate or check the data; the checkpoints hold the weights from before "
          "the first of these steps".format(self._consecutive, step_before + 1))

  def _check_zero_gradients(self, zero, step, loss_value):
    self._consecutive_zero = self._consecutive_zero + 1 if zero else 0
    if self._consecutive_zero >= self._max_consecutive:
      raise NonFiniteLossError(
          "Training cannot learn: every gradient was exactly 0 for {} consecutive steps while the loss was "
          "positive ({:.3f} at global step {}); a fixed loss_scaling={} that overflows or underflows the "
          "reduced-precision gradients? (use 'Backoff')".format(self._consecutive_zero, loss_value, step,
                                                             self._model.params["loss_scaling"]))

"""Training loop: MonitoredTrainingSession with checkpoints, summaries, progress and evaluation hooks."""
import os
import time

import tensorflow.compat.v1 as tf

from open_seq2seq.distributed.session_config import session_config
from open_seq2seq.optimizers.automatic_loss_scaler import STATE_COLLECTION
from open_seq2seq.training.hooks import NonFiniteLossHook, PrintSamplesHook, ProgressHook, RunEvaluationHook
from open_seq2seq.training.stop_signals import DEFAULT_GRACE_SECONDS, StopOnSignal, TrainingInterrupted
from open_seq2seq.utils.checkpoint import (EMA_SUFFIX, build_restore_fn, check_resume_fits, latest_checkpoint,
                                          remove_interrupted_checkpoint_files, resolve_checkpoint)
from open_seq2seq.utils.logging import deco_print
from open_seq2seq.utils.precision import is_mixed


WRITE_FAILURES = ("File too large", "No space left", "Permission denied", "Read-only file system",
                  "Disk quota exceeded")


class LogdirWriteError(IOError):
  """Training could not write into its logdir (disk full, file-size limit, permissions)."""


class _OutOfRangeFailure(Exception):
  """An OutOfRangeError that is not the end of the training data, wrapped to leave the training session."""

  def __init__(self, error):
    super().__init__(str(error))
    self.error = error


def _write_failure(error, logdir):
  """A LogdirWriteError for ``error`` if it is a failed write, naming the newest checkpoint still intact."""
  text = str(error)
  if not logdir or not any(reason in text for reason in WRITE_FAILURES):
    return None
  remove_interrupted_checkpoint_files(logdir)
  intact = latest_checkpoint(logdir)
  reason = text.strip().splitlines()[0]  # not empty: it holds one of WRITE_FAILURES
  return LogdirWriteError("Cannot write to logdir {} ({}). Earlier checkpoints are intact; newest: {}".format(
      logdir, reason, intact or "none yet"))


def train(train_model, eval_model=None, debug_port=None, custom_hooks=(), stop_grace_seconds=DEFAULT_GRACE_SECONDS):
  """Trains until ``train_model.last_step``; resumes automatically from the latest checkpoint of logdir.
  A stop signal the loop has not taken ``stop_grace_seconds`` later ends the process (see stop_signals.py).

  Under Horovod every worker trains; rank 0 alone restores, writes checkpoints, summaries and progress, and
  the others receive its variables once the session exists.
  """
  params = train_model.params
  workers = train_model.hvd
  master = workers is None or workers.rank() == 0
  logdir = (params["logdir"] or None) if master else None
  hooks = [tf.train.StopAtStepHook(last_step=train_model.last_step)]
  hooks.extend(hook_cls(train_model=train_model, eval_model=eval_model) for hook_cls in custom_hooks)
  if workers is not None:
    hooks.append(workers.broadcast_hook())
  hooks.append(NonFiniteLossHook(train_model, params["max_consecutive_nonfinite_steps"]))
  evaluation_hook = None
  saver = tf.train.Saver(max_to_keep=params["num_checkpoints"], save_relative_paths=True)
  if logdir and params["save_checkpoint_steps"]:
    hooks.append(tf.train.CheckpointSaverHook(logdir, saver=saver, save_steps=params["save_checkpoint_steps"]))
  if master and params["print_loss_steps"]:
    progress_csv = os.path.join(logdir, "train_progress.csv") if logdir else None
    hooks.append(ProgressHook(train_model, params["print_loss_steps"], progress_csv))
  if master and params["print_samples_steps"]:
    hooks.append(PrintSamplesHook(train_model, params["print_samples_steps"]))
  if eval_model is not None:
    if not params["eval_steps"]:
      raise ValueError("train_eval mode needs 'eval_steps' in the config")
    evaluation_hook = RunEvaluationHook(eval_model, params["eval_steps"], train_model.last_step, logdir,
                                        params["num_checkpoints"], save_best=bool(params["save_checkpoint_steps"]))
    hooks.append(evaluation_hook)
  if debug_port:
    from tensorflow.python import debug as tf_debug
    hooks.append(tf_debug.TensorBoardDebugHook("localhost:{}".format(debug_port)))

  resume_checkpoint = latest_checkpoint(logdir) if master else None
  restored = tf.global_variables()
  fresh = []
  if resume_checkpoint:
    # The saver restores every variable by its exact name and shape; refuse a changed model before training.
    _check_resume_has_moving_averages(train_model, resume_checkpoint)
    fresh = _inert_scaler_state_missing_from(train_model, resume_checkpoint)
    fresh_names = {v.op.name for v in fresh}
    restored = [v for v in restored if v.op.name not in fresh_names]
    check_resume_fits(resume_checkpoint, restored)
  init_data = [train_model.get_data_layer().iterator.initializer]
  init_fn = None
  load_model = params["load_model"] if master and not resume_checkpoint else None
  if load_model:
    base_checkpoint = resolve_checkpoint(load_model, "load_model")
    deco_print("Initialising from the base model {}".format(base_checkpoint))
    restore = build_restore_fn(base_checkpoint, [v for v in tf.global_variables() if "global_step" not in v.op.name],
                               warm_start=True)

    def init_fn(scaffold, sess):
      """Restores the base model's variables into ``sess``."""
      del scaffold
      restore(sess)

  # State a resumed checkpoint lacks is restored around, then initialised by local_init_op (it runs after the
  # restore).
  scaffold = tf.train.Scaffold(
      saver=tf.train.Saver(restored, save_relative_paths=True) if fresh else saver, init_fn=init_fn,
      ready_for_local_init_op=tf.report_uninitialized_variables(restored) if fresh else None,
      local_init_op=tf.group(tf.local_variables_initializer(), *init_data, *[v.initializer for v in fresh]))
  fetches = [train_model.train_op, train_model.num_objects_per_step]
  try:
    timed_steps, total_time, total_objects, stop_signal = _run_training_loop(
        train_model, scaffold, logdir, workers, hooks, fetches, stop_grace_seconds)
  except (tf.errors.OpError, OSError, _OutOfRangeFailure) as caught:
    error = caught.error if isinstance(caught, _OutOfRangeFailure) else caught
    # A bad audio file read mid-training is one line naming the file and row, not TensorFlow's trace.
    failure = train_model.get_data_layer().input_error() or _write_failure(error, logdir)
    if failure is not None:
      raise failure from error
    if isinstance(caught, _OutOfRangeFailure):
      raise error from None
    raise
  if stop_signal is not None:
    saved = latest_checkpoint(logdir) if logdir and params["save_checkpoint_steps"] else None
    raise TrainingInterrupted(stop_signal, saved)
  deco_print("Finished training")
  train_model.get_data_layer().report_skipped()
  if timed_steps > 0:
    deco_print("Avg time per step: {:.3f}s".format(total_time / timed_steps))
    deco_print("Avg objects per second: {:.3f}".format(total_objects / total_time))
  else:
    deco_print("Not enough steps for benchmarking")
  return evaluation_hook.history if evaluation_hook else None


def _inert_scaler_state_missing_from(train_model, checkpoint):
  """The automatic loss scaler's variables that ``checkpoint`` lacks, when this run never updates them (a
  float32 run: the scaler exists only for the reference's variable list). Float32 checkpoints written before
  it was built there resume with its initial state, as one line says; otherwise []."""
  if is_mixed(train_model.params["dtype"]):
    return []
  stored = {name for name, _ in tf.train.list_variables(checkpoint)}
  missing = [v for v in tf.get_collection(STATE_COLLECTION) if v.op.name not in stored]
  if missing:
    deco_print("Checkpoint {} predates the loss scaler's state in float32 training graphs: {} start from their "
               "initial values (float32 never reads them)".format(checkpoint, ", ".join(v.op.name for v in missing)))
  return missing


def _check_resume_has_moving_averages(train_model, checkpoint):
  """A run resumed with ``ema_decay`` from a checkpoint trained without it would fail deep in the restore."""
  if not checkpoint or not train_model.ema_decay:
    return
  if not any(name.endswith(EMA_SUFFIX) for name, _ in tf.train.list_variables(checkpoint)):
    raise ValueError("ema_decay={} but checkpoint {} holds no moving averages of the weights (trained without "
                     "ema_decay): resume it with --ema_decay=0, or train with ema_decay in a new logdir".format(
                         train_model.ema_decay, checkpoint))


def _run_training_loop(train_model, scaffold, logdir, workers, hooks, fetches, stop_grace_seconds):
  """Runs training steps until the last step, the end of the data or a stop signal; returns the timing
  totals and the signal (None when training ended normally)."""
  params = train_model.params
  iter_size = params["iter_size"]

  def accumulation_only(run_index):
    """With iter_size > 1, every run but the last of each group of iter_size only accumulates gradients."""
    return iter_size > 1 and run_index % iter_size != iter_size - 1

  bench_start = params["bench_start"]
  total_time, total_objects, timed_steps, step = 0.0, 0, 0, 0
  with StopOnSignal(stop_grace_seconds) as stop, tf.train.MonitoredTrainingSession(
      scaffold=scaffold, checkpoint_dir=logdir, save_summaries_steps=params["save_summaries_steps"] if logdir else None,
      save_checkpoint_secs=None, save_checkpoint_steps=None, config=session_config(params, "train", workers),
      log_step_count_steps=params["save_summaries_steps"] if logdir else None, stop_grace_period_secs=300,
      hooks=hooks) as sess:
    restored_step = sess.run_step_fn(lambda step_context: step_context.session.run(tf.train.get_global_step()))
    finished = restored_step >= train_model.last_step
    if finished:
      deco_print("Training already reached its last step ({}); nothing to do".format(train_model.last_step))
    while not finished and not sess.should_stop() and stop.received is None:
      start = time.time()
      try:
        if accumulation_only(step):
          # Hooks see update runs only: global_step, checkpoints and summaries move with the updates.
          _, objects = sess.run_step_fn(
              lambda step_context: step_context.session.run(fetches, {train_model.skip_update_ph: True}))
        else:
          _, objects = sess.run(fetches)
      except tf.errors.OutOfRangeError as error:
        # The end of a finite training set ends training; anything else out of range (a write that hit
        # the file-size limit reports that way too) is an error, carried out of the session wrapped: the
        # session's __exit__ swallows every OutOfRangeError.
        if "End of sequence" not in str(error):
          raise _OutOfRangeFailure(error) from error
        break
      if step >= bench_start:
        total_time += time.time() - start
        total_objects += objects
        timed_steps += 1
        if params["print_bench_info_steps"] and timed_steps % params["print_bench_info_steps"] == 0:
          deco_print("Avg objects per second: {:.3f}".format(total_objects / total_time))
      step += 1
  return timed_steps, total_time, total_objects, stop.received

"""SIGINT/SIGTERM: finish the running step, write a final checkpoint, exit with a message; and end the process
even when the main thread is stuck inside TensorFlow, where Python signal handlers never get to run."""
import os
import select
import signal
import sys
import threading

import tensorflow.compat.v1 as tf

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
DEFAULT_GRACE_SECONDS = 60.0
_WAKE_WATCHER = 0  # a byte no signal has: asks the watcher thread to finish
_active = []


class TrainingInterrupted(Exception):
  """Training stopped on a signal after saving; ``exit_code`` follows the shell's 128 + signal number."""

  def __init__(self, signal_number, checkpoint):
    self.signal_number = signal_number
    self.exit_code = 128 + signal_number
    if checkpoint:
      step = tf.train.load_checkpoint(checkpoint).get_tensor("global_step")
      saved = "final checkpoint {} (global step {})".format(checkpoint, step)
    else:
      saved = "no checkpoint written (no logdir or save_checkpoint_steps on this worker)"
    super().__init__("Training stopped by {}; {}. Resume with --continue_learning".format(
        signal.Signals(signal_number).name, saved))


class RunInterrupted(Exception):
  """Evaluation or inference stopped on a signal between batches (nothing was written), or, with ``finished``,
  a signal that came after its last batch (its results are complete); the exit code says a signal came."""

  def __init__(self, signal_number, what, finished=False):
    self.exit_code = 128 + signal_number
    name = signal.Signals(signal_number).name
    super().__init__("{} finished before it could stop on {}; its results are complete".format(what, name)
                     if finished else "{} stopped by {}; nothing written".format(what, name))


def evaluation_stop_signal():
  """The signal that should stop a stand-alone evaluation or inference between batches, or None. An evaluation
  inside training runs to its end: the training loop stops after it and writes the final checkpoint."""
  return _active[-1].received if _active and _active[-1].stops_evaluation else None


class StopOnSignal:
  """Context manager: the first SIGINT/SIGTERM only sets ``received`` (the loop stops between steps and the
  session's hooks write the last checkpoint). A watcher thread, woken by the signal through
  ``signal.set_wakeup_fd`` even while the main thread is blocked in TensorFlow, ends the process with exit
  code 128 + signal and one line on stderr if the main thread has not taken the signal ``grace_seconds`` later
  (an input pipeline that never yields, a step that never returns), or at once on a second signal. Outside
  the main thread signals cannot be caught, and nothing is installed. A signal the parent process ignores
  (SIGINT of a job a non-interactive shell started with ``&``) stays ignored, as Python and run.py's start-up
  leave it. ``stops_evaluation``: the run is an evaluation or inference, which stops between batches (see
  evaluation_stop_signal)."""

  def __init__(self, grace_seconds=DEFAULT_GRACE_SECONDS, stops_evaluation=False):
    self.received = None
    self.stops_evaluation = stops_evaluation
    self._grace = grace_seconds
    self._previous = {}
    self._previous_wakeup = None
    self._taken = threading.Event()
    self._pipe = self._watcher = None

  def _handle(self, signal_number, frame):
    del frame
    if self.received is None:
      self.received = signal_number
    self._taken.set()

  def __enter__(self):
    if threading.current_thread() is not threading.main_thread():
      return self
    self._pipe = os.pipe()
    os.set_blocking(self._pipe[1], False)
    for number in STOP_SIGNALS:
      if signal.getsignal(number) != signal.SIG_IGN:
        self._previous[number] = signal.signal(number, self._handle)
    self._previous_wakeup = signal.set_wakeup_fd(self._pipe[1], warn_on_full_buffer=False)
    self._watcher = threading.Thread(target=self._watch, name="stop-signal-watcher", daemon=True)
    self._watcher.start()
    _active.append(self)
    return self

  def __exit__(self, *exc):
    if self._pipe is None:
      return False
    _active.remove(self)
    signal.set_wakeup_fd(self._previous_wakeup)
    for number, handler in self._previous.items():
      signal.signal(number, handler)
    os.write(self._pipe[1], bytes([_WAKE_WATCHER]))
    self._watcher.join()
    for descriptor in self._pipe:
      os.close(descriptor)
    return False

  def _watch(self):
    """Reads the signal numbers the C-level handler writes; ends the process when they go unanswered."""
    count, first = 0, None
    while True:
      timeout = None if count != 1 or self._taken.is_set() else self._grace
      if not select.select([self._pipe[0]], [], [], timeout)[0]:
        if self._taken.is_set():
          continue
        _die(first, "the main thread did not stop within {:.0f} s (blocked in TensorFlow: an input pipeline that "
                    "yields nothing, or a step that never ends); no final checkpoint".format(self._grace))
      for number in os.read(self._pipe[0], 64):
        if number == _WAKE_WATCHER:
          return
        if number in STOP_SIGNALS:
          count += 1
          first = first or number
          if count > 1:
            _die(number, "second signal; no final checkpoint")


def _die(signal_number, why):
  """Exits the whole process now, from any thread (checkpoints already written are renamed into place by
  TensorFlow, so none is left half-written)."""
  sys.stderr.write("*** Stopped by {}: {}\n".format(signal.Signals(signal_number).name, why))
  sys.stderr.flush()
  os._exit(128 + signal_number)

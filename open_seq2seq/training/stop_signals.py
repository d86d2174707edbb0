"""SIGINT/SIGTERM during training: finish the running step, write a final checkpoint, exit with a message."""
import signal
import threading

import tensorflow.compat.v1 as tf

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


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


class StopOnSignal:
  """Context manager: the first SIGINT/SIGTERM only sets ``received`` (the loop stops between steps and
  the session's hooks write the last checkpoint); a second one gets the default behaviour, so a stuck run
  can still be killed. Outside the main thread signals cannot be caught, and nothing is installed."""

  def __init__(self):
    self.received = None
    self._previous = {}

  def _handle(self, signal_number, frame):
    del frame
    self.received = signal_number
    for number, handler in self._previous.items():
      signal.signal(number, handler)

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for number in STOP_SIGNALS:
        self._previous[number] = signal.signal(number, self._handle)
    return self

  def __exit__(self, *exc):
    for number, handler in self._previous.items():
      signal.signal(number, handler)
    return False

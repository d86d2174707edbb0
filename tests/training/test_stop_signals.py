"""StopOnSignal in this process: which signals it takes, and that an inherited ignored SIGINT stays ignored."""
import os
import signal
import time

import pytest

from open_seq2seq.training.stop_signals import StopOnSignal


@pytest.fixture
def restore_dispositions():
  saved = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
  yield
  for number, handler in saved.items():
    signal.signal(number, handler)


def _deliver(number):
  os.kill(os.getpid(), number)
  time.sleep(0.05)  # the Python-level handler runs at the next bytecode boundary of the main thread


def test_the_first_signal_is_recorded_and_the_handlers_restored(restore_dispositions):
  del restore_dispositions
  signal.signal(signal.SIGTERM, signal.SIG_DFL)
  with StopOnSignal(grace_seconds=600) as stop:
    _deliver(signal.SIGTERM)
    assert stop.received == signal.SIGTERM
  assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_a_sigint_the_parent_ignores_stays_ignored(restore_dispositions):
  # A job started with "&" by a non-interactive shell inherits SIGINT ignored; Python keeps it so.
  del restore_dispositions
  signal.signal(signal.SIGINT, signal.SIG_IGN)
  signal.signal(signal.SIGTERM, signal.SIG_DFL)
  with StopOnSignal(grace_seconds=600) as stop:
    assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    _deliver(signal.SIGINT)
    assert stop.received is None
    _deliver(signal.SIGTERM)
    assert stop.received == signal.SIGTERM
  assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN

"""Helpers of the end-to-end tests: run the project's scripts as a user would and read what they wrote."""
import csv
import glob
import os
import signal
import subprocess
import sys

import tensorflow.compat.v1 as tf

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CONFIG = os.path.join(REPO, "configs", "speech2text", "jasper_tiny_nvgrad.py")


def default_stop_signals():
  """``preexec_fn`` of a run.py started as from a terminal: SIGINT and SIGTERM at their default disposition,
  even when this test run is a job a non-interactive shell started with ``&`` (which ignores SIGINT, and
  run.py keeps an ignored SIGINT ignored)."""
  for number in (signal.SIGINT, signal.SIGTERM):
    signal.signal(number, signal.SIG_DFL)


def run_script(args, env=None, check=True, launcher=None):
  """Runs ``python args...`` (``launcher`` prefixes the command, e.g. horovodrun) from the repository root."""
  command = list(launcher or []) + [sys.executable] + args
  result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
  if check and result.returncode != 0:
    raise AssertionError("{} failed ({}):\n{}\n{}".format(command, result.returncode, result.stdout[-3000:],
                                                          result.stderr[-3000:]))
  return result


def read_progress(logdir):
  with open(os.path.join(logdir, "train_progress.csv"), newline="") as handle:
    rows = list(csv.DictReader(handle))
  return [(int(r["global_step"]), float(r["loss"])) for r in rows]


def summary_tags(logdir):
  tags = set()
  for events_file in glob.glob(os.path.join(logdir, "events.out.tfevents.*")):
    for event in tf.train.summary_iterator(events_file):
      tags.update(value.tag for value in event.summary.value)
  return tags


def snapshot(root):
  """Every file under ``root`` with its bytes: what a read-only entry must leave as it was."""
  files = {}
  for folder, _, names in os.walk(root):
    for name in names:
      with open(os.path.join(folder, name), "rb") as handle:
        files[os.path.relpath(os.path.join(folder, name), root)] = handle.read()
  return files

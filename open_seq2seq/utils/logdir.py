"""Log-directory checks (what may be overwritten or resumed) and ``--enable_logs`` bookkeeping."""
import atexit
import os
import shutil
import subprocess
import sys
import time

from open_seq2seq.utils.checkpoint import CheckpointError, latest_checkpoint
from open_seq2seq.utils.logging import deco_print


def checkpoint_dir(logdir, enable_logs):
  """Folder of the checkpoints: ``logdir/logs`` with ``enable_logs``, else ``logdir``."""
  return os.path.join(logdir, "logs") if enable_logs else logdir


def check_logdir(mode, logdir, enable_logs, continue_learning, restore_best_checkpoint=False,
                 resume_if_exists=False):
  """Returns the checkpoint to start from (train: None for scratch): the newest intact one (utils/checkpoint.py
  latest_checkpoint, which skips damaged ones with a warning). ``resume_if_exists`` (NeMo's flag of that name):
  training resumes from the logdir's checkpoint when it holds one and starts from scratch when the logdir is
  empty or missing, where ``continue_learning`` refuses. Raises IOError for a logdir that does not suit
  ``mode`` (also a non-empty training logdir without a checkpoint: a run that died before its first one, or
  the wrong folder; nothing in it is overwritten), CheckpointError when its checkpoints are all damaged.
  Modifies nothing."""
  ckpt_dir = checkpoint_dir(logdir, enable_logs)
  if mode in ("train", "train_eval"):
    if os.path.isfile(logdir):
      raise IOError("logdir {} is a file, expected a directory".format(logdir))
    non_empty = os.path.isdir(logdir) and os.listdir(logdir)
    if non_empty:
      if not (continue_learning or resume_if_exists):
        raise IOError("Log directory is not empty: {}. Pass --continue_learning to resume from its latest "
                      "checkpoint, or choose another --logdir".format(logdir))
      checkpoint = latest_checkpoint(ckpt_dir)
      if checkpoint is None:
        raise IOError("{}: there is no checkpoint in {}, but the folder is not empty; remove it or choose another "
                      "--logdir".format("--continue_learning" if continue_learning else "--resume_if_exists",
                                        ckpt_dir))
      return checkpoint
    if resume_if_exists:
      deco_print("--resume_if_exists: log directory {} is empty or missing, training from scratch".format(logdir))
    elif continue_learning:
      raise IOError("--continue_learning: log directory {} is empty or missing, nothing to resume".format(logdir))
    return None
  if not (os.path.isdir(logdir) and os.listdir(logdir)):
    raise IOError("Log directory {} is empty or missing: {} needs a trained checkpoint".format(logdir, mode))
  best_dir = os.path.join(ckpt_dir, "best_models")
  if restore_best_checkpoint and os.path.isdir(best_dir):
    deco_print("Restoring from the best checkpoint")
    return _best_or_latest(best_dir, ckpt_dir)
  deco_print("Restoring from the latest checkpoint")
  checkpoint = latest_checkpoint(ckpt_dir)
  if checkpoint is None:
    raise IOError("There is no checkpoint in {}".format(ckpt_dir))
  return checkpoint


def _best_or_latest(best_dir, ckpt_dir):
  """The newest intact checkpoint of ``best_dir``; when it has none (all damaged, or none written yet), the
  newest intact one of ``ckpt_dir`` with a warning, since a damaged best checkpoint should not cost the run its
  intact latest ones. Raises the CheckpointError of ``best_dir`` (or IOError) when neither has one."""
  best_error = None
  try:
    checkpoint = latest_checkpoint(best_dir)
  except CheckpointError as error:
    checkpoint, best_error = None, error
  if checkpoint is not None:
    return checkpoint
  latest = latest_checkpoint(ckpt_dir)
  if latest is None:
    if best_error is not None:
      raise best_error
    raise IOError("There is no checkpoint in {} nor in {}".format(best_dir, ckpt_dir))
  deco_print("Warning: restore_best_checkpoint: no intact checkpoint in {} ({}); using the latest checkpoint {}".format(
      best_dir, best_error or "it holds none", latest))
  return latest


class _Tee:
  def __init__(self, stream, log_file):
    self._stream = stream
    self._log = log_file

  def write(self, text):
    """Writes ``text`` to the stream and the log file."""
    self._stream.write(text)
    self._log.write(text)

  def flush(self):
    """Flushes the stream and the log file."""
    self._stream.flush()
    self._log.flush()

  def __getattr__(self, name):
    return getattr(self._stream, name)


def create_logdir(logdir, config_file, argv, repo_dir):
  """Writes the config copy, command line and git state into ``logdir`` and tees stdout/stderr."""
  os.makedirs(logdir, exist_ok=True)
  stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
  shutil.copy(config_file, os.path.join(logdir, "config_{}.py".format(stamp)))
  with open(os.path.join(logdir, "cmd-args_{}.log".format(stamp)), "w") as handle:
    handle.write(" ".join(argv))
  with open(os.path.join(logdir, "git-info_{}.log".format(stamp)), "w") as handle:
    try:
      commit = subprocess.check_output(["git", "rev-parse", "HEAD"], cwd=repo_dir, stderr=subprocess.STDOUT)
      diff = subprocess.check_output(["git", "diff"], cwd=repo_dir, stderr=subprocess.STDOUT)
      handle.write("commit hash: {}".format(commit.decode()))
      handle.write(diff.decode())
    except (subprocess.CalledProcessError, OSError) as error:
      handle.write(str(error))
  stdout_log = open(os.path.join(logdir, "stdout_{}.log".format(stamp)), "a", buffering=1)
  stderr_log = open(os.path.join(logdir, "stderr_{}.log".format(stamp)), "a", buffering=1)
  original = sys.stdout, sys.stderr
  sys.stdout = _Tee(sys.stdout, stdout_log)
  sys.stderr = _Tee(sys.stderr, stderr_log)

  def restore():
    """Puts back the original stdout and stderr and closes the log files."""
    sys.stdout, sys.stderr = original
    stdout_log.close()
    stderr_log.close()

  atexit.register(restore)
  return restore

"""Checkpoints on disk and into graphs: finding the newest intact one of a directory (damaged ones are skipped
with a warning), repairing the state file on resume, and restoring variables by name and shape (eval, infer,
export, warm start) or checking that a resume restores them exactly (checkpoint_fit.py)."""
import glob
import os
import re
import shutil
import time

import tensorflow.compat.v1 as tf
from google.protobuf import text_format
from tensorflow.python.training.checkpoint_state_pb2 import CheckpointState

from open_seq2seq.utils.atomic import atomic_output
from open_seq2seq.utils.checkpoint_fit import (EMA_SUFFIX, is_model_weight, match_exactly, match_sources,
                                               mismatch_error, weights_missing_from_graph)
from open_seq2seq.utils.logging import deco_print

STATE_FILE = "checkpoint"


class CheckpointError(ValueError):
  """No intact checkpoint where one is needed: every candidate of a directory, or the one named, is damaged."""


def _first_line(error):
  text = str(error).strip()
  return "{}: {}".format(type(error).__name__, text.splitlines()[0][:300] if text else "(no message)")


def checkpoint_problem(prefix):
  """None when checkpoint ``prefix`` restores completely, else what is wrong with it (one line).

  Reads every tensor back: TensorFlow checks each against the crc32c its index stores, so a truncated, zeroed or
  bit-flipped data shard is found, as is an index that does not parse. Costs one read of the data: for 1.33 GB
  (Jasper 10x5's 332 M float32 weights) 2.5 s from disk, 0.8 s from the page cache.
  """
  if not os.path.isfile(prefix + ".index"):
    return "its index file {}.index is missing".format(os.path.basename(prefix))
  # A resume asks about the same checkpoint several times (state repair, logdir check, restore): files that
  # have not changed since they read back intact are not read again.
  files = _file_signature(prefix)
  if _INTACT.get(prefix) == files:
    return None
  try:
    reader = tf.train.load_checkpoint(prefix)
    for name in reader.get_variable_to_shape_map():
      reader.get_tensor(name)
  except Exception as error:
    # Damage surfaces as whatever the reader trips over first: IndexError for a short data shard, DataLossError
    # for a checksum, another OpError for an index or a missing shard, DecodeError for a bad entry.
    hint = " (a data shard is shorter than its index says)" if isinstance(error, IndexError) else ""
    return _first_line(error) + hint
  # mtime has the kernel's tick as resolution: only files left alone for a while are known by it.
  if all(mtime_ns < time.time_ns() - 2 * 10**9 for _, _, mtime_ns in files):
    _INTACT[prefix] = files
  return None


_INTACT = {}


def _file_signature(prefix):
  """``(name, size, mtime_ns)`` of the index and data shards of checkpoint ``prefix``."""
  signature = []
  for path in [prefix + ".index"] + sorted(glob.glob(glob.escape(prefix) + ".data-*")):
    stat = os.stat(path)
    signature.append((path, stat.st_size, stat.st_mtime_ns))
  return tuple(signature)


def checkpoint_is_complete(prefix):
  """Whether checkpoint ``prefix`` restores: its index and every data shard are present and every tensor
  reads back intact."""
  return checkpoint_problem(prefix) is None


def _read_state(directory):
  """``(paths, problem)`` of ``directory``'s state file: the checkpoints it lists, newest first (relative entries
  joined to ``directory``; an absolute one whose file is missing but whose name lies in ``directory``, as in a
  logdir copied from another machine, taken from there), and what is wrong with the file (None when it reads
  and lists a checkpoint with paths of this directory)."""
  path = os.path.join(directory, STATE_FILE)
  if not os.path.exists(path):
    return [], "the state file {} is missing".format(path)
  try:
    with open(path, "rb") as handle:
      state = text_format.Parse(handle.read().decode("utf-8"), CheckpointState())
  except (OSError, UnicodeDecodeError, text_format.ParseError) as error:
    return [], "the state file {} is unreadable ({})".format(path, _first_line(error))
  listed = list(state.all_model_checkpoint_paths)
  if state.model_checkpoint_path and state.model_checkpoint_path not in listed:
    listed.append(state.model_checkpoint_path)
  if not listed:
    return [], "the state file {} lists no checkpoint".format(path)
  paths, foreign = [], []
  for entry in reversed(listed):
    local = os.path.join(directory, os.path.basename(entry))
    if not os.path.isabs(entry):
      paths.append(os.path.join(directory, entry))
    elif not os.path.exists(entry + ".index") and os.path.exists(local + ".index"):
      foreign.append(entry)
      paths.append(local)
    else:
      paths.append(entry)
  problem = "the state file {} lists paths of another machine ({})".format(path, foreign[0]) if foreign else None
  return paths, problem


def listed_checkpoints(directory):
  """Checkpoints the ``checkpoint`` state file lists, newest first, as paths (see _read_state)."""
  return _read_state(directory)[0]


def _step_and_time(prefix):
  match = re.search(r"-(\d+)$", prefix)
  return (int(match.group(1)) if match else -1, os.path.getmtime(prefix + ".index"))


def _candidates(directory):
  """``(listed, unlisted, state problem)``: the checkpoints the state file lists, newest first, and those whose
  index lies in ``directory`` unlisted (a damaged or lost state file), highest step first."""
  listed, problem = _read_state(directory)
  on_disk = [path[:-len(".index")] for path in glob.glob(os.path.join(glob.escape(directory), "*.index"))]
  unlisted = sorted((path for path in on_disk if path not in listed), key=_step_and_time, reverse=True)
  return listed, unlisted, problem


def _newest_intact(directory):
  """``(intact, listed, state problem)``: the newest intact checkpoint of ``directory`` (None when it has no
  checkpoint at all), trying the listed ones, then the unlisted (see _candidates). Only the candidates up to
  the first intact one are read; each damaged one is skipped with a one-line warning, as is a damaged state
  file. Raises CheckpointError naming the directory and the problem of each candidate when none is intact."""
  listed, unlisted, state_problem = _candidates(directory)
  damaged = []
  for path in listed + unlisted:
    problem = checkpoint_problem(path)
    if problem is None:
      for bad, why in damaged:
        deco_print("Warning: skipping damaged checkpoint {} ({}); using {}".format(bad, why, path))
      if state_problem:
        deco_print("Warning: {}; using {}".format(state_problem, path))
      return path, listed, state_problem
    damaged.append((path, problem))
  if damaged:
    raise CheckpointError("No intact checkpoint in {}: {}{}".format(
        directory, "; ".join("{}: {}".format(os.path.basename(path), why) for path, why in damaged),
        "; " + state_problem if state_problem else ""))
  return None, listed, state_problem


def latest_checkpoint(directory):
  """Path prefix of the newest intact checkpoint in ``directory``, or None when it holds no checkpoint at all
  (or is not a directory). Damaged newer ones are skipped with a one-line warning each; the directory is not
  modified. Raises CheckpointError when it holds checkpoints but none is intact."""
  if not directory or not os.path.isdir(directory):
    return None
  return _newest_intact(directory)[0]


def resolve_checkpoint(path, option):
  """The checkpoint ``path`` (the value of command-line ``option``) names: the newest intact one of a
  directory, or the prefix itself when it is intact. Raises IOError when there is none, CheckpointError when
  it is damaged."""
  if os.path.isdir(path):
    checkpoint = latest_checkpoint(path)
    if checkpoint is None:
      raise IOError("{}={}: no checkpoint in that directory (expected a training logdir)".format(option, path))
    return checkpoint
  if not os.path.exists(path + ".index"):
    raise IOError("{}={}: neither a directory nor a checkpoint prefix ({}.index is missing)".format(
        option, path, path))
  problem = checkpoint_problem(path)
  if problem is not None:
    raise CheckpointError("{}={}: the checkpoint is damaged ({})".format(option, path, problem))
  return path


def remove_interrupted_checkpoint_files(directory):
  """Deletes the temporary files of checkpoint writes that were killed (never referenced by the state)."""
  removed = []
  for pattern in ("*.tempstate*", "*_temp*"):
    for path in glob.glob(os.path.join(glob.escape(directory), pattern)):
      if os.path.isdir(path):
        shutil.rmtree(path)
      else:
        os.remove(path)
      removed.append(path)
  return removed


def repair_checkpoint_state(directory):
  """Before training resumes in ``directory``: removes leftovers of interrupted writes and, when the state file
  does not name its newest intact checkpoint first (damaged newer ones, a damaged, missing or foreign state
  file), rewrites it atomically to list that checkpoint and the older ones, relative to the directory as the
  savers write it. Returns that checkpoint (None when there is none); raises CheckpointError when none is
  intact."""
  if not directory or not os.path.isdir(directory):
    return None
  for path in remove_interrupted_checkpoint_files(directory):
    deco_print("Removed the leftover of an interrupted checkpoint write: {}".format(path))
  intact, listed, state_problem = _newest_intact(directory)
  if intact is None or (listed[:1] == [intact] and state_problem is None):
    return intact
  older = listed[listed.index(intact) + 1:] if intact in listed else []
  kept = [intact] + [path for path in older if os.path.exists(path + ".index")]
  state = CheckpointState(model_checkpoint_path=_state_entry(directory, intact),
                          all_model_checkpoint_paths=[_state_entry(directory, path) for path in reversed(kept)])
  state_file = os.path.join(directory, STATE_FILE)
  if os.path.isdir(state_file):
    # Nothing may be deleted on the user's behalf, and TensorFlow's savers cannot write their state there.
    raise CheckpointError("{} is a directory where the checkpoint state file belongs: move it away to resume "
                          "(the newest intact checkpoint is {})".format(state_file, intact))
  with atomic_output(state_file) as tmp_path, open(tmp_path, "w") as handle:
    handle.write(text_format.MessageToString(state))
  deco_print("Checkpoint state of {} now names {}".format(directory, intact))
  return intact


def _state_entry(directory, path):
  """``path`` relative to ``directory`` when it lies there (a moved logdir still resumes), else as it is."""
  inside = os.path.dirname(os.path.abspath(path)) == os.path.abspath(directory)
  return os.path.basename(path) if inside else path


def check_resume_fits(checkpoint, variables=None):
  """Raises CheckpointMismatchError unless a tf.train.Saver restores every graph variable (default: all global
  ones) from ``checkpoint`` and every model weight it holds has a variable: resuming after changing the model
  is refused before training, naming each variable and both shapes."""
  variables = variables if variables is not None else tf.global_variables()
  stored = dict(tf.train.list_variables(checkpoint))
  dtypes = tf.train.load_checkpoint(checkpoint).get_variable_to_dtype_map()
  problems = match_exactly(variables, stored, dtypes) + weights_missing_from_graph(stored, variables)
  if problems:
    raise mismatch_error(checkpoint, problems)


def build_restore_fn(checkpoint, variables=None, use_ema=False, warm_start=False):
  """Builds (before the graph is finalized) the ops restoring graph ``variables`` (default: all global ones)
  from ``checkpoint`` by name and shape. Returns ``restore(sess)``.

  Float32 master copies of a mixed-precision checkpoint are preferred over its float16 weights; a variable
  stored with another dtype is cast on assign. ``use_ema`` (the model's ``ema_decay`` is set): each variable is
  restored from its exponential moving average where the checkpoint keeps one, and one line says whether any
  did. Every model weight (checkpoint_fit.is_model_weight) must be restored and every model weight of the
  checkpoint must have a variable, else CheckpointMismatchError; other variables (global_step, loss-scale
  state, optimizer slots) keep their initial values when the checkpoint lacks them, as the forward pass never
  reads them. ``warm_start`` (a base model for training): a subset is restored on purpose and one line lists
  what was not and why.
  """
  variables = variables if variables is not None else tf.global_variables()
  stored = dict(tf.train.list_variables(checkpoint))
  reader = tf.train.load_checkpoint(checkpoint)
  dtypes = reader.get_variable_to_dtype_map()
  sources, unmatched = match_sources(variables, stored, use_ema)
  unused = weights_missing_from_graph(stored, variables)
  if warm_start:
    _report_warm_start(checkpoint, len(sources), len(variables), unmatched, unused)
  else:
    problems = [(name, why) for name, why in unmatched if is_model_weight(name)] + unused
    if problems:
      raise mismatch_error(checkpoint, problems)
  same_dtype, assign_ops = {}, []
  for var, source in sources.items():
    if dtypes[source] == var.dtype.base_dtype:
      same_dtype[source] = var
    else:
      assign_ops.append(tf.assign(var, tf.cast(reader.get_tensor(source), var.dtype.base_dtype)))
  averaged = sum(1 for source in sources.values() if source.endswith(EMA_SUFFIX))
  if use_ema and averaged:
    deco_print("Restoring the exponential moving averages of {} weights (ema_decay) from {}".format(
        averaged, checkpoint))
  elif use_ema:
    deco_print("ema_decay is set, but {} holds no moving averages of the weights: restoring the raw weights".format(
        checkpoint))
  saver = tf.train.Saver(same_dtype) if same_dtype else None

  def restore(sess):
    """Restores the matching variables from the checkpoint into ``sess``, casting those of another dtype."""
    if saver is not None:
      saver.restore(sess, checkpoint)
    if assign_ops:
      sess.run(assign_ops)

  return restore


def _report_warm_start(checkpoint, restored, total, unmatched, unused):
  parts = ["Warm start from {}: restored {} of {} variables".format(checkpoint, restored, total)]
  if unmatched:
    parts.append("not restored: " + ", ".join("{} ({})".format(name, why) for name, why in unmatched))
  if unused:
    parts.append("not used from the checkpoint: " + ", ".join(name for name, _ in unused))
  deco_print("; ".join(parts))

"""Restoring forward-pass variables from a checkpoint by name and shape (eval, infer, export)."""
import glob
import os
import shutil

import tensorflow.compat.v1 as tf
from tensorflow.python.checkpoint import checkpoint_management

from open_seq2seq.utils.logging import deco_print


def latest_checkpoint(directory):
  """Path prefix of the newest checkpoint in ``directory`` or None."""
  if not directory or not tf.io.gfile.isdir(directory):
    return None
  return tf.train.latest_checkpoint(directory)


MASTER_COPY_PREFIX = "Loss_Optimization/FP32-master-copy/"
# tf.train.ExponentialMovingAverage names the moving average (shadow) of variable v "<v>/ExponentialMovingAverage".
EMA_SUFFIX = "/ExponentialMovingAverage"


def source_name(name, shape, stored, use_ema=False):
  """Entry of ``stored`` (name -> shape: a checkpoint's or a graph's variables) to take graph variable ``name``'s
  value from: its float32 master copy when the checkpoint comes from mixed-precision training, else the same
  name; a master copy of this graph falls back to the plain variable of a checkpoint trained without one. With
  ``use_ema``, the moving average of that entry (``<entry>/ExponentialMovingAverage``) when one is stored. None
  when nothing of that shape is stored."""
  candidates = [MASTER_COPY_PREFIX + name, name]
  if name.startswith(MASTER_COPY_PREFIX):
    candidates.append(name[len(MASTER_COPY_PREFIX):])
  if use_ema:
    candidates = [candidate + EMA_SUFFIX for candidate in candidates] + candidates
  for candidate in candidates:
    if candidate in stored and list(stored[candidate]) == shape:
      return candidate
  return None


def build_restore_fn(checkpoint, variables=None, use_ema=False):
  """Builds (before the graph is finalized) the ops restoring every graph variable whose name and shape
  exist in ``checkpoint``; others are reported. Returns ``restore(sess)``.

  Float32 master copies of a mixed-precision checkpoint are preferred over its float16 weights; a variable
  stored with another dtype (float16 weights into a float32 graph, say) is cast on assign. ``use_ema`` (the
  model's ``ema_decay`` is set): each variable is restored from its exponential moving average where the
  checkpoint keeps one, and one line says whether any did.
  """
  variables = variables if variables is not None else tf.global_variables()
  stored = dict(tf.train.list_variables(checkpoint))
  reader = tf.train.load_checkpoint(checkpoint)
  dtypes = reader.get_variable_to_dtype_map()
  same_dtype, assign_ops, averaged = {}, [], 0
  for var in variables:
    name = var.op.name
    source = source_name(name, var.shape.as_list(), stored, use_ema)
    if source is None:
      deco_print("Not restoring {} (absent from {} or of another shape)".format(name, checkpoint))
      continue
    averaged += source.endswith(EMA_SUFFIX)
    if dtypes[source] == var.dtype.base_dtype:
      same_dtype[source] = var
    else:
      assign_ops.append(tf.assign(var, tf.cast(reader.get_tensor(source), var.dtype.base_dtype)))
  if use_ema and averaged:
    deco_print("Restoring the exponential moving averages of {} weights (ema_decay) from {}".format(
        averaged, checkpoint))
  elif use_ema:
    deco_print("ema_decay is set, but {} holds no moving averages of the weights: restoring the raw weights".format(
        checkpoint))
  saver = tf.train.Saver(same_dtype) if same_dtype else None

  def restore(sess):
    if saver is not None:
      saver.restore(sess, checkpoint)
    if assign_ops:
      sess.run(assign_ops)

  return restore


def checkpoint_is_complete(prefix):
  """Whether checkpoint ``prefix`` restores: its index and every data shard are present and every tensor
  reads back."""
  if not tf.io.gfile.exists(prefix + ".index"):
    return False
  try:
    reader = tf.train.load_checkpoint(prefix)
    for name in reader.get_variable_to_shape_map():
      reader.get_tensor(name)
  except (tf.errors.OpError, ValueError, OSError):
    return False
  return True


def listed_checkpoints(directory):
  """Checkpoints the ``checkpoint`` state file lists, newest first, as paths (get_checkpoint_state has
  already joined relative entries to ``directory``)."""
  state = tf.train.get_checkpoint_state(directory)
  if state is None:
    return []
  listed = list(state.all_model_checkpoint_paths)
  if state.model_checkpoint_path and state.model_checkpoint_path not in listed:
    listed.append(state.model_checkpoint_path)
  return list(reversed(listed))


def remove_interrupted_checkpoint_files(directory):
  """Deletes the temporary files of checkpoint writes that were killed (never referenced by the state)."""
  removed = []
  for pattern in ("*.tempstate*", "*_temp*"):
    for path in glob.glob(os.path.join(directory, pattern)):
      if os.path.isdir(path):
        shutil.rmtree(path)
      else:
        os.remove(path)
      removed.append(path)
  return removed


def repair_checkpoint_state(directory):
  """Points ``directory``'s checkpoint state at its newest checkpoint that restores completely, dropping
  listed checkpoints that do not, and removes leftovers of interrupted writes. Returns that checkpoint (None
  when there is none)."""
  if not directory or not os.path.isdir(directory):
    return None
  for path in remove_interrupted_checkpoint_files(directory):
    deco_print("Removed the leftover of an interrupted checkpoint write: {}".format(path))
  listed = listed_checkpoints(directory)
  complete = [path for path in listed if checkpoint_is_complete(path)]
  if complete != listed:
    for path in listed:
      if path not in complete:
        deco_print("Warning: checkpoint {} is incomplete or unreadable; it will not be used".format(path))
    if complete:
      # Written relative to the directory, as the savers do (save_relative_paths), so a moved logdir still resumes.
      checkpoint_management.update_checkpoint_state_internal(
          directory, complete[0], all_model_checkpoint_paths=list(reversed(complete)), save_relative_paths=True)
    else:
      os.remove(os.path.join(directory, "checkpoint"))
  return complete[0] if complete else None

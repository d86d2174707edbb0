"""Atomic file writes: data goes to a hidden temporary file beside the target, then ``os.replace``s it, so
an interrupted writer never leaves a half-written file under the final name."""
import contextlib
import itertools
import os
import threading

_counter = itertools.count()
_lock = threading.Lock()


def temp_path_for(path):
  """A unique hidden temporary name in the target's folder (same filesystem, so the rename is atomic)."""
  with _lock:
    serial = next(_counter)
  directory, name = os.path.split(path)
  return os.path.join(directory, ".{}.tmp.{}.{}".format(name, os.getpid(), serial))


def is_temp_path(name):
  """True if ``name`` looks like a temporary file of atomic_output (a hidden file holding ``.tmp.``)."""
  return os.path.basename(name).startswith(".") and ".tmp." in name


def remove_temp_files(directory, target=None):
  """Deletes what interrupted writers left in ``directory`` (their files never got a final name); with
  ``target`` (a file name), only what writers of that file left."""
  if not os.path.isdir(directory):
    return
  prefix = "." if target is None else ".{}.tmp.".format(target)
  for name in os.listdir(directory):
    if is_temp_path(name) and name.startswith(prefix):
      os.remove(os.path.join(directory, name))


@contextlib.contextmanager
def atomic_output(path):
  """Yields a temporary path to write; on success it replaces ``path``, on any error it is removed."""
  tmp = temp_path_for(path)
  try:
    yield tmp
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise

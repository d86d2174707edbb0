"""All-or-nothing replacement of an online inference run's outputs.

A run writes what it produces (``jasper/``, ``logits/``, ``predictions.csv``, ``accuracy.txt``) into a hidden
staging folder inside ``output_dir`` (same filesystem, so every swap is a rename). Only when the whole run has
succeeded do the staged outputs replace the previous ones; a failed or interrupted run leaves the previous
outputs byte for byte as they were, so features, logits and predictions never describe different runs.
"""
import contextlib
import os
import shutil
import tempfile

from open_seq2seq.utils.logging import deco_print

STAGING_PREFIX = ".online_inference.staging."
BACKUP_SUFFIX = ".previous"


def _remove(path):
  if os.path.isdir(path) and not os.path.islink(path):
    shutil.rmtree(path)
  elif os.path.lexists(path):
    os.remove(path)


def remove_abandoned_staging(output_dir):
  """Deletes staging folders of runs that died before replacing anything. A folder holding a backup was
  interrupted while swapping; it is kept, with a warning, since the backup may be the only copy left."""
  for name in sorted(os.listdir(output_dir)):
    path = os.path.join(output_dir, name)
    if not name.startswith(STAGING_PREFIX) or not os.path.isdir(path):
      continue
    if any(entry.endswith(BACKUP_SUFFIX) for entry in os.listdir(path)):
      deco_print("Warning: {} holds outputs of an interrupted replacement (*{}); move back what is missing "
                 "from {} and delete the folder".format(path, BACKUP_SUFFIX, output_dir))
    else:
      shutil.rmtree(path, ignore_errors=True)


def _replace(staging, output_dir, names):
  """Moves each of ``names`` staged in ``staging`` over its namesake in ``output_dir``; one the run did not
  produce is removed there, since it would belong to the previous run."""
  for name in names:
    target = os.path.join(output_dir, name)
    new = os.path.join(staging, name)
    backup = os.path.join(staging, name + BACKUP_SUFFIX)
    if os.path.lexists(target):
      os.rename(target, backup)
    if os.path.lexists(new):
      os.rename(new, target)
  shutil.rmtree(staging)


@contextlib.contextmanager
def staged_outputs(output_dir, names):
  """Yields an empty staging folder; on success the run's ``names`` (files or folders) in it replace those
  of ``output_dir``, on any error (or interruption) the staging folder is deleted and ``output_dir`` keeps
  its previous outputs untouched.

  Raises IOError naming ``output_dir`` when it cannot hold the staging folder.
  """
  try:
    os.makedirs(output_dir, exist_ok=True)
    remove_abandoned_staging(output_dir)
    staging = tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=output_dir)
  except OSError as error:
    raise IOError("Cannot write to output_dir {}: {}".format(output_dir, error)) from error
  try:
    yield staging
  except BaseException:
    _remove(staging)
    raise
  _replace(staging, output_dir, names)

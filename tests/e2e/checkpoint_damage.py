"""Damage of a checkpoint or of a directory's state file, as power loss, a bad disk or a partial copy leaves it:
shared by the checkpoint unit tests (tests/utils) and the end-to-end ones (tests/e2e)."""
import os

import numpy as np

DATA = ".data-00000-of-00001"


def _truncate(path, size):
  with open(path, "r+b") as handle:
    handle.truncate(size)


def flip_byte(path, offset):
  """Flips one bit (0x04) of the byte at ``offset`` of ``path``."""
  with open(path, "r+b") as handle:
    handle.seek(offset)
    byte = handle.read(1)[0]
    handle.seek(offset)
    handle.write(bytes([byte ^ 0x04]))


def _write(path, content):
  with open(path, "wb") as handle:
    handle.write(content)


# Damage of one checkpoint (its prefix), as power loss, a bad disk or a partial copy leaves it.
CHECKPOINT_DAMAGE = {
    "data truncated": lambda prefix: _truncate(prefix + DATA, os.path.getsize(prefix + DATA) // 2),
    "data 0 bytes": lambda prefix: _truncate(prefix + DATA, 0),
    "data bit flipped": lambda prefix: flip_byte(prefix + DATA, os.path.getsize(prefix + DATA) // 2),
    "data missing": lambda prefix: os.remove(prefix + DATA),
    "index truncated": lambda prefix: _truncate(prefix + ".index", os.path.getsize(prefix + ".index") // 2),
    "index 0 bytes": lambda prefix: _truncate(prefix + ".index", 0),
    "index garbage": lambda prefix: _write(prefix + ".index", np.random.default_rng(0).bytes(300)),
    "index bit flipped": lambda prefix: flip_byte(prefix + ".index", 10),
    "index missing": lambda prefix: os.remove(prefix + ".index"),
}

# Damage of the state file of a directory whose checkpoints are intact.
STATE_DAMAGE = {
    "state empty": lambda state: _write(state, b""),
    "state garbage": lambda state: _write(state, b'model_checkpoint_path: "model.ckpt-200\nall_model {{'),
    "state binary": lambda state: _write(state, np.random.default_rng(1).bytes(64)),
    "state missing": os.remove,
    "state lists missing files": lambda state: _write(
        state, b'model_checkpoint_path: "model.ckpt-300"\nall_model_checkpoint_paths: "model.ckpt-100"\n'
               b'all_model_checkpoint_paths: "model.ckpt-200"\nall_model_checkpoint_paths: "model.ckpt-300"\n'),
    "state of another machine": lambda state: _write(
        state, b'model_checkpoint_path: "/nonexistent/machine/logdir/model.ckpt-200"\n'
               b'all_model_checkpoint_paths: "/nonexistent/machine/logdir/model.ckpt-100"\n'
               b'all_model_checkpoint_paths: "/nonexistent/machine/logdir/model.ckpt-200"\n'),
}

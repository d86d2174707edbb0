"""Damaged checkpoints (utils/checkpoint.py, utils/logdir.py): every way a power loss, a bad disk or a copy from
another machine leaves a checkpoint or the state file, through every function that picks the checkpoint of a
directory (eval, infer, resume, restore_best_checkpoint, load_model and ckpt2pb). The newest intact checkpoint
is used with a warning naming the damaged one; with none intact, one error names the directory and what is
wrong with each; only the resume's repair writes into the directory."""
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from open_seq2seq.utils.checkpoint import (CheckpointError, checkpoint_problem, latest_checkpoint,
                                          repair_checkpoint_state, resolve_checkpoint)
from open_seq2seq.utils.logdir import check_logdir
from tests.e2e.checkpoint_damage import CHECKPOINT_DAMAGE, DATA, STATE_DAMAGE, flip_byte
from tests.e2e.e2e_helpers import snapshot
from tests.utils.test_checkpoint_state import save_checkpoints

tf.disable_eager_execution()

# Every way a checkpoint of a directory is picked; each takes the directory the checkpoints are in
# (<logdir>/best_models) and returns the chosen prefix.
ENTRIES = {
    "latest_checkpoint": latest_checkpoint,
    "ckpt2pb --checkpoint / load_model": lambda directory: resolve_checkpoint(directory, "--checkpoint"),
    "eval": lambda directory: check_logdir("eval", directory, False, False),
    "infer": lambda directory: check_logdir("infer", directory, False, False),
    "restore_best_checkpoint": lambda directory: check_logdir("eval", os.path.dirname(directory), False, False,
                                                              restore_best_checkpoint=True),
    "train resume": repair_checkpoint_state,
}


@pytest.fixture(name="checkpoint_dir")
def fixture_checkpoint_dir(tmp_path):
  """<tmp>/logdir/best_models with model.ckpt-100 (weight arange(4) + 1) and model.ckpt-200 (+ 2)."""
  directory = str(tmp_path / "logdir" / "best_models")
  save_checkpoints(directory, [100, 200])
  return directory


def stored_weight(prefix):
  return tf.train.load_checkpoint(prefix).get_tensor("weight")


def pick(entry, directory):
  """The entry's choice and whether it left the logdir unchanged."""
  root = os.path.dirname(directory)
  before = snapshot(root)
  chosen = ENTRIES[entry](directory)
  return chosen, snapshot(root) == before


@pytest.mark.parametrize("entry", sorted(ENTRIES))
@pytest.mark.parametrize("damage", sorted(CHECKPOINT_DAMAGE))
def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_one(checkpoint_dir, damage, entry, capsys):
  newest, previous = os.path.join(checkpoint_dir, "model.ckpt-200"), os.path.join(checkpoint_dir, "model.ckpt-100")
  CHECKPOINT_DAMAGE[damage](newest)
  chosen, unchanged = pick(entry, checkpoint_dir)
  assert chosen == previous
  np.testing.assert_array_equal(stored_weight(chosen), np.arange(4, dtype=np.float32) + 1.0)
  warnings = [line for line in capsys.readouterr().out.splitlines() if "Warning" in line]
  assert len(warnings) == 1 and "skipping damaged checkpoint {}".format(newest) in warnings[0], warnings
  assert warnings[0].endswith("using " + previous)
  if entry == "train resume":
    # MonitoredTrainingSession restores what TensorFlow's own reading of the state names.
    assert tf.train.latest_checkpoint(checkpoint_dir) == previous
    assert tf.train.get_checkpoint_state(checkpoint_dir).all_model_checkpoint_paths == [previous]
  else:
    assert unchanged


@pytest.mark.parametrize("entry", sorted(ENTRIES))
@pytest.mark.parametrize("damage", sorted(STATE_DAMAGE))
def test_a_damaged_state_file_falls_back_to_the_newest_intact_checkpoint(checkpoint_dir, damage, entry, capsys):
  state = os.path.join(checkpoint_dir, "checkpoint")
  STATE_DAMAGE[damage](state)
  chosen, unchanged = pick(entry, checkpoint_dir)
  assert chosen == os.path.join(checkpoint_dir, "model.ckpt-200")
  np.testing.assert_array_equal(stored_weight(chosen), np.arange(4, dtype=np.float32) + 2.0)
  warnings = [line for line in capsys.readouterr().out.splitlines() if "Warning" in line]
  assert warnings and all(line.endswith("using " + chosen) for line in warnings), warnings
  assert any(state in line or "model.ckpt-300" in line for line in warnings), warnings
  if entry == "train resume":
    assert tf.train.latest_checkpoint(checkpoint_dir) == chosen
  else:
    assert unchanged


@pytest.mark.parametrize("entry", sorted(ENTRIES))
def test_state_damage_and_a_damaged_newest_checkpoint_together(checkpoint_dir, entry):
  STATE_DAMAGE["state empty"](os.path.join(checkpoint_dir, "checkpoint"))
  CHECKPOINT_DAMAGE["data truncated"](os.path.join(checkpoint_dir, "model.ckpt-200"))
  assert pick(entry, checkpoint_dir)[0] == os.path.join(checkpoint_dir, "model.ckpt-100")


@pytest.mark.parametrize("entry", sorted(ENTRIES))
def test_no_intact_checkpoint_is_one_error_naming_each(checkpoint_dir, entry):
  CHECKPOINT_DAMAGE["data 0 bytes"](os.path.join(checkpoint_dir, "model.ckpt-200"))
  CHECKPOINT_DAMAGE["index garbage"](os.path.join(checkpoint_dir, "model.ckpt-100"))
  before = snapshot(os.path.dirname(checkpoint_dir))
  with pytest.raises(CheckpointError) as raised:
    ENTRIES[entry](checkpoint_dir)
  message = str(raised.value)
  assert "\n" not in message and message.startswith("No intact checkpoint in {}: ".format(checkpoint_dir))
  assert "model.ckpt-200: IndexError: Read less bytes than requested" in message
  assert "model.ckpt-100: " in message and "sstable" in message
  assert snapshot(os.path.dirname(checkpoint_dir)) == before


def test_an_explicitly_named_damaged_checkpoint_is_refused(checkpoint_dir):
  newest = os.path.join(checkpoint_dir, "model.ckpt-200")
  CHECKPOINT_DAMAGE["data bit flipped"](newest)
  with pytest.raises(CheckpointError, match=r"--checkpoint={}: the checkpoint is damaged \(.*Checksum".format(newest)):
    resolve_checkpoint(newest, "--checkpoint")
  assert resolve_checkpoint(os.path.join(checkpoint_dir, "model.ckpt-100"), "--checkpoint").endswith("-100")


@pytest.mark.parametrize("suffix", [".index", DATA])
def test_any_flipped_byte_is_found_or_harmless(checkpoint_dir, suffix):
  """A flip anywhere in a file is reported, or (padding of the index footer) every tensor reads back unchanged:
  a checkpoint that passes never restores other values."""
  prefix = os.path.join(checkpoint_dir, "model.ckpt-200")
  reader = tf.train.load_checkpoint(prefix)
  original = {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}
  path = prefix + suffix
  found = 0
  for offset in range(os.path.getsize(path)):
    flip_byte(path, offset)
    if checkpoint_problem(prefix) is None:
      reader = tf.train.load_checkpoint(prefix)
      assert set(reader.get_variable_to_shape_map()) == set(original), offset
      for name, value in original.items():
        np.testing.assert_array_equal(reader.get_tensor(name), value, err_msg="offset {}".format(offset))
    else:
      found += 1
    flip_byte(path, offset)
  assert found >= os.path.getsize(path) // 2
  assert checkpoint_problem(prefix) is None


def test_an_unchanged_intact_checkpoint_is_read_once_and_damage_after_it_is_still_found(checkpoint_dir,
                                                                                           monkeypatch):
  """A resume asks three times about the same checkpoint; files older than the clock's tick are trusted while
  their size and mtime stay, and any write after the check is seen again."""
  prefix = os.path.join(checkpoint_dir, "model.ckpt-200")
  for path in (prefix + ".index", prefix + DATA):
    os.utime(path, (os.path.getmtime(path) - 3600, os.path.getmtime(path) - 3600))
  reads = []
  real_load = tf.train.load_checkpoint
  monkeypatch.setattr(tf.train, "load_checkpoint", lambda path: reads.append(path) or real_load(path))
  assert checkpoint_problem(prefix) is None and checkpoint_problem(prefix) is None
  assert reads == [prefix]
  flip_byte(prefix + DATA, os.path.getsize(prefix + DATA) // 2)
  assert "Checksum" in checkpoint_problem(prefix) or "checksum" in checkpoint_problem(prefix).lower()
  assert len(reads) >= 2


@pytest.mark.parametrize("best_state", ["all damaged", "empty folder"])
def test_restore_best_checkpoint_falls_back_to_the_latest_when_no_best_one_is_intact(tmp_path, best_state, capsys):
  logdir = str(tmp_path / "logdir")
  save_checkpoints(logdir, [100, 200])
  best_dir = os.path.join(logdir, "best_models")
  if best_state == "all damaged":
    save_checkpoints(best_dir, [50])
    CHECKPOINT_DAMAGE["data 0 bytes"](os.path.join(best_dir, "model.ckpt-50"))
  else:
    os.makedirs(best_dir)
  before = snapshot(logdir)
  chosen = check_logdir("eval", logdir, False, False, restore_best_checkpoint=True)
  assert chosen == os.path.join(logdir, "model.ckpt-200") and snapshot(logdir) == before
  # Two increments from arange(4): the weights of the second checkpoint save_checkpoints wrote.
  np.testing.assert_array_equal(stored_weight(chosen), np.arange(4, dtype=np.float32) + 2.0)
  warnings = [line for line in capsys.readouterr().out.splitlines() if "Warning" in line]
  assert len(warnings) == 1 and "no intact checkpoint in {}".format(best_dir) in warnings[0], warnings
  assert warnings[0].endswith("using the latest checkpoint " + chosen)


def test_a_directory_in_place_of_the_state_file(checkpoint_dir):
  state = os.path.join(checkpoint_dir, "checkpoint")
  os.remove(state)
  os.makedirs(state)
  newest = os.path.join(checkpoint_dir, "model.ckpt-200")
  for entry in ("eval", "infer", "ckpt2pb --checkpoint / load_model"):
    assert pick(entry, checkpoint_dir) == (newest, True)
  before = snapshot(os.path.dirname(checkpoint_dir))
  with pytest.raises(CheckpointError, match="{} is a directory where the checkpoint state file belongs: move it away "
                                            r"to resume \(the newest intact checkpoint is {}\)".format(state, newest)):
    repair_checkpoint_state(checkpoint_dir)
  assert os.path.isdir(state) and snapshot(os.path.dirname(checkpoint_dir)) == before

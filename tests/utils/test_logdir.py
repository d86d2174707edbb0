"""Which checkpoint a training run starts from (utils/logdir.py check_logdir): a fresh logdir trains from
scratch, a non-empty one only with --continue_learning, and --resume_if_exists (NeMo's flag) resumes when
there is a checkpoint and starts from scratch when the logdir is empty or missing; nothing is written."""
import os

import pytest
import tensorflow.compat.v1 as tf

from open_seq2seq.utils.logdir import check_logdir
from tests.e2e.e2e_helpers import snapshot
from tests.utils.test_checkpoint_state import save_checkpoints

tf.disable_eager_execution()


@pytest.mark.parametrize("state", ["missing", "empty"])
def test_resume_if_exists_trains_from_scratch_in_a_fresh_logdir(tmp_path, state, capsys):
  logdir = str(tmp_path / "run")
  if state == "empty":
    os.makedirs(logdir)
  assert check_logdir("train", logdir, False, False, resume_if_exists=True) is None
  assert "--resume_if_exists: log directory {} is empty or missing, training from scratch".format(
      logdir) in capsys.readouterr().out
  with pytest.raises(IOError, match="--continue_learning: log directory .* is empty or missing, nothing to resume"):
    check_logdir("train", logdir, False, True)


@pytest.mark.parametrize("flags", [{"continue_learning": True}, {"continue_learning": False, "resume_if_exists": True}])
def test_a_logdir_with_checkpoints_resumes_from_the_newest(tmp_path, flags):
  logdir = str(tmp_path / "run")
  save_checkpoints(logdir, [100, 200])
  before = snapshot(logdir)
  assert check_logdir("train_eval", logdir, False, **flags) == os.path.join(logdir, "model.ckpt-200")
  assert snapshot(logdir) == before


def test_a_non_empty_logdir_without_a_checkpoint_is_refused_by_every_flag(tmp_path):
  logdir = tmp_path / "run"
  logdir.mkdir()
  (logdir / "train_progress.csv").write_text("global_step,loss\n")
  with pytest.raises(IOError, match="Log directory is not empty: .*Pass --continue_learning"):
    check_logdir("train", str(logdir), False, False)
  for flag, kwargs in (("--continue_learning", {"continue_learning": True}),
                       ("--resume_if_exists", {"continue_learning": False, "resume_if_exists": True})):
    with pytest.raises(IOError, match="{}: there is no checkpoint in .*, but the folder is not empty".format(flag)):
      check_logdir("train", str(logdir), False, **kwargs)
  assert (logdir / "train_progress.csv").read_text() == "global_step,loss\n"

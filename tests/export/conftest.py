"""Fixtures of the export tests: a tiny model trained on the shared synthesized corpus."""
import os

import pytest

from tests.e2e.e2e_helpers import CONFIG, run_script

TRAIN_STEPS = 10


@pytest.fixture(scope="session")
def checkpoint(env, tmp_path_factory):
  """Checkpoint prefix of the tiny config after a few training steps (its outputs are not all blanks)."""
  logdir = str(tmp_path_factory.mktemp("export_logdir"))
  run_script(["run.py", "--config_file=" + CONFIG, "--mode=train", "--logdir=" + logdir,
              "--max_steps={}".format(TRAIN_STEPS)], env)
  return os.path.join(logdir, "model.ckpt-{}".format(TRAIN_STEPS))

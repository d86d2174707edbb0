"""Session fixtures shared by the test folders: a small corpus synthesized with espeak-ng and imported with the
user's importer (built once per test run), the environment that points the configs at it, and a tiny model
trained on it through run.py (export and transcribe tests)."""
import os

import pytest

from tests.e2e.e2e_helpers import CONFIG, REPO, run_script

TRAIN_STEPS = 10


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
  """The corpus of the e2e, export and transcribe tests. With word gaps, as the main job's corpus had them when
  these tests were written: the tiny model's few training steps then already spell letters for its test
  speaker, which the transcript comparisons need (without, it writes only spaces at 10 or 20 steps)."""
  root = str(tmp_path_factory.mktemp("corpus"))
  run_script(["scripts/build_mini_corpus.py", "--output_dir", root, "--num_train_utterances", "48",
              "--num_dev_utterances", "8", "--num_test_utterances", "6", "--num_train_speakers", "4",
              "--num_dev_speakers", "1", "--num_test_speakers", "1", "--max_words", "6", "--word_gaps"])
  run_script(["scripts/import_librivox.py", "--data_dir", root])
  return root


@pytest.fixture(scope="session")
def env(corpus):
  return dict(os.environ, JASPER_MINI_CORPUS=corpus, PYTHONPATH=REPO)


@pytest.fixture(scope="session")
def checkpoint(env, tmp_path_factory):
  """Checkpoint prefix of the tiny config after a few training steps (its outputs are not all blanks)."""
  logdir = str(tmp_path_factory.mktemp("export_logdir"))
  run_script(["run.py", "--config_file=" + CONFIG, "--mode=train", "--logdir=" + logdir,
              "--max_steps={}".format(TRAIN_STEPS)], env)
  return os.path.join(logdir, "model.ckpt-{}".format(TRAIN_STEPS))

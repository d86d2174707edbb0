"""Tests for scripts/build_mini_corpus.py, the command-line shim of open_seq2seq/corpus/build.py (the build
itself is tested in tests/corpus/)."""

import os
import subprocess
import sys

from tests.e2e.e2e_helpers import REPO

SCRIPT = os.path.join(REPO, "scripts", "build_mini_corpus.py")
FLAGS = ("--output_dir", "--num_train_utterances", "--num_dev_utterances", "--num_test_utterances", "--seed",
         "--workers", "--min_words", "--max_words", "--num_train_speakers", "--num_dev_speakers",
         "--num_test_speakers", "--num_dev_other_speakers", "--world_fraction", "--word_gaps", "--fortune_dir",
         "--exclude_fortune_files")


def _run(tmp_path, *args):
  """Runs the script from outside the repository, without PYTHONPATH: it must find the package itself."""
  env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
  return subprocess.run([sys.executable, SCRIPT] + list(args), cwd=str(tmp_path), env=env,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)


def test_help_lists_every_flag(tmp_path):
  result = _run(tmp_path, "--help")
  assert result.returncode == 0, result.stderr
  assert result.stdout.startswith("usage: build_mini_corpus.py ")
  for flag in FLAGS:
    assert flag in result.stdout


def test_error_exits_1_under_the_script_name(tmp_path):
  result = _run(tmp_path, "--output_dir", str(tmp_path / "out"), "--workers", "0")
  assert result.returncode == 1
  assert result.stderr == "build_mini_corpus.py: error: --workers must be >= 1, got 0\n"
  assert not (tmp_path / "out").exists()

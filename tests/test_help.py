"""``--help`` of every tool (run.py and each console script of pyproject.toml) prints its usage and nothing
else: exit status 0, a ``usage:`` line on stdout and an empty stderr, also without TF_CPP_MIN_LOG_LEVEL, so
no TensorFlow start-up noise reaches a user who only asked for the flags."""
import os
import subprocess
import sys
import tomllib

import pytest

from tests.e2e.e2e_helpers import REPO

with open(os.path.join(REPO, "pyproject.toml"), "rb") as _handle:
  CONSOLE_SCRIPTS = sorted(tomllib.load(_handle)["project"]["scripts"].items())


def _help_of(argv):
  env = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP")}
  return subprocess.run(argv + ["--help"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
                        check=False)


@pytest.mark.parametrize("name,entry", CONSOLE_SCRIPTS, ids=[name for name, _ in CONSOLE_SCRIPTS])
def test_console_script_help_is_quiet(name, entry):
  module, function = entry.split(":")
  code = "import sys; sys.argv[0] = {!r}; from {} import {} as f; sys.exit(f())".format(name, module, function)
  result = _help_of([sys.executable, "-c", code])
  assert (result.returncode, result.stderr) == (0, "")
  assert result.stdout.startswith("usage:")


def test_run_py_help_is_quiet():
  result = _help_of([sys.executable, "run.py"])
  assert (result.returncode, result.stderr) == (0, "")
  assert result.stdout.startswith("usage: run.py")


def test_main_job_help_prints_its_usage_instead_of_starting():
  result = _help_of(["bash", "scripts/run_mini_demo.sh"])
  assert (result.returncode, result.stderr) == (0, "")
  assert "JASPER_MINI_CORPUS" in result.stdout and "Usage:" in result.stdout
  assert "== Building" not in result.stdout
  other = subprocess.run(["bash", "scripts/run_mini_demo.sh", "--max_steps=10"], cwd=REPO, capture_output=True,
                         text=True, timeout=60, check=False)
  assert other.returncode == 2 and other.stdout == ""
  assert "takes no arguments, got '--max_steps=10'" in other.stderr

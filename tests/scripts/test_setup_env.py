"""scripts/setup_env.sh with another setup holding its environment's lock: it waits for the holder to finish,
then goes on, instead of building into the same folder at the same time."""
import os
import re
import shutil
import subprocess

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SETUP = os.path.join(REPO, "scripts", "setup_env.sh")


def _setup(env):
  return subprocess.run(["bash", SETUP], env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.skipif(shutil.which("flock") is None, reason="needs flock (util-linux)")
def test_a_second_setup_waits_for_the_one_holding_the_environment(tmp_path):
  env = dict(os.environ, JASPER_SKIP_APT="1", JASPER_SKIP_KENLM_TOOLS="1")
  first = _setup(env)
  reused = re.search(r"\[setup\] reusing Python environment (\S+)", first.stderr)
  if first.returncode != 0 or reused is None:
    pytest.skip("the shared environment is not built here: {}".format(first.stderr[-300:]))
  venv = reused.group(1)
  released = tmp_path / "released"
  # the holder marks its release just before it lets go of the lock
  holder = subprocess.Popen(["flock", venv + ".lock", "sh", "-c", 'sleep 2; touch "$0"', str(released)])
  try:
    for _ in range(100):  # until the holder has the lock
      if subprocess.run(["flock", "-n", venv + ".lock", "true"]).returncode != 0:
        break
      subprocess.run(["sleep", "0.05"])
    second = _setup(env)
  finally:
    holder.wait(timeout=30)
  assert second.returncode == 0, second.stderr
  assert "[setup] waiting for another setup that holds {}.lock".format(venv) in second.stderr
  assert released.exists()
  assert second.stdout.strip() == first.stdout.strip()

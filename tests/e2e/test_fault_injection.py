"""The fault-injection run in short: training SIGKILLed 3 times at random moments always resumes from a
complete checkpoint and reaches its last step."""
import re

from tests.e2e.e2e_helpers import run_script


def test_killed_training_always_resumes(env, tmp_path):
  result = run_script(["bench/fault_injection.py", "--kills", "3", "--max_steps", "60", "--max_delay_s", "2.5",
                       "--logdir", str(tmp_path / "killed")], env, check=False)
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  row = re.search(r"^\| (\d+) \| (\d+)/(\d+) \| (\d+) \| (\d+) of 60 \|$", result.stdout, re.MULTILINE)
  assert row, result.stdout
  kills, resumes, attempts, corrupt, final_step = (int(value) for value in row.groups())
  assert kills >= 1 and resumes == attempts and corrupt == 0 and final_step == 60

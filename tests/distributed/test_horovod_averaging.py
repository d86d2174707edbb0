"""Gradient averaging and variable broadcast with 2 real Horovod processes (Gloo) and different data per rank,
against a numpy computation of the averaged least-squares gradient."""
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.distributed.horovod_average_worker import LEARNING_RATE, problem

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def gradient(w, x, y):
  """d/dw of mean((x w - y)^2)."""
  return 2.0 / (x.shape[0] * y.shape[1]) * x.T @ (x @ w - y)


@pytest.mark.parametrize("iter_size", [1, 2])
def test_update_uses_the_average_over_ranks(tmp_path, iter_size):
  command = [os.path.join(os.path.dirname(sys.executable), "horovodrun"), "-np", "2", "-H", "localhost:2", "--gloo",
             sys.executable, "-m", "tests.distributed.horovod_average_worker", str(tmp_path), str(iter_size)]
  result = subprocess.run(command, cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO), capture_output=True,
                          text=True, timeout=300, check=False)
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  inputs, targets, initial = problem()
  if iter_size == 1:
    per_rank = [gradient(initial, inputs[r].reshape(-1, 5), targets[r].reshape(-1, 3)) for r in range(2)]
  else:
    per_rank = [np.mean([gradient(initial, inputs[r, m], targets[r, m]) for m in range(2)], axis=0)
                for r in range(2)]
  expected = initial - LEARNING_RATE * np.mean(per_rank, axis=0)
  for rank in range(2):
    np.testing.assert_allclose(np.load(str(tmp_path / "rank{}.npy".format(rank))), expected, rtol=1e-5, atol=1e-6)

"""How the fault-injection run judges one resume, including a kill that lands after the last checkpoint while
the process is exiting (CI once counted the clean no-op resume that follows as a failure)."""
import pytest

from bench.fault_injection import resume_succeeded


@pytest.mark.parametrize("restored, first_step, exit_code, expected", [
    (10, 11, None, True),      # killed after training on from the step after the checkpoint
    (10, 11, 0, True),         # trained on to the end
    (10, 10, None, False),     # the first step did not move past the checkpoint
    (10, None, 1, False),      # crashed before training a step
    (None, 1, None, False),    # started from scratch instead of restoring
    (60, None, 0, True),       # the checkpoint is the last step: nothing left to train, clean exit
    (60, None, 1, False),      # ... but an error exit is a failed resume
    (60, None, None, False),   # ... and so is hanging until killed
])
def test_resume_rule(restored, first_step, exit_code, expected):
  assert resume_succeeded(restored, first_step, exit_code, max_steps=60) is expected

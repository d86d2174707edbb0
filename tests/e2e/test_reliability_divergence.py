"""A diverging run stops with the non-finite guard's error instead of printing a masked loss of 0, and
utterances that cannot be aligned are counted on the progress lines (issue 14, case 8)."""
import csv
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from open_seq2seq.data.speech2text.manifest import read_manifests
from tests.e2e.e2e_helpers import CONFIG, run_script

STRIDE_CONFIG = """import copy, runpy
_tiny = runpy.run_path({config!r}, init_globals={{"tf": tf}})
base_model = _tiny["base_model"]
base_params = copy.deepcopy(_tiny["base_params"])
base_params["encoder_params"]["convnet_layers"][0]["stride"] = [{stride}]
train_params, eval_params, infer_params = _tiny["train_params"], _tiny["eval_params"], _tiny["infer_params"]
"""


def _assert_float_variables_finite(checkpoint):
  reader = tf.train.load_checkpoint(checkpoint)
  for name in reader.get_variable_to_shape_map():
    value = np.asarray(reader.get_tensor(name))
    if np.issubdtype(value.dtype, np.floating):
      assert np.all(np.isfinite(value)), name


@pytest.mark.parametrize("learning_rate, dtype", [
    ("1e4", "float32"), ("1e12", "float32"),
    ("1e12", "bfloat16"),  # mixed precision with the automatic loss scaler, which skips the overflowing steps
])
def test_diverging_learning_rate_ends_with_the_guard_error(env, tmp_path, learning_rate, dtype):
  logdir = str(tmp_path / "logdir")
  result = run_script(["run.py", "--config_file=" + CONFIG, "--mode=train", "--logdir=" + logdir,
                       "--max_steps=400", "--eval_steps=100000", "--lr_policy_params/learning_rate=" + learning_rate,
                       "--dtype=" + dtype], env, check=False)
  assert result.returncode != 0, result.stdout[-2000:]
  errors = [line for line in result.stderr.splitlines() if line.startswith("*** Error:")]
  assert len(errors) == 1 and "Training diverged" in errors[0], result.stderr[-2000:]
  assert "Traceback" not in result.stderr
  assert "loss:  0.000" not in result.stdout
  assert "Finished training" not in result.stdout
  _assert_float_variables_finite(tf.train.latest_checkpoint(logdir))


def test_batches_that_cannot_be_aligned_are_counted_not_shown_as_loss_zero(env, tmp_path):
  """A stride of 64 frames leaves about 1.6 output frames per second, fewer than any transcript needs."""
  config = tmp_path / "stride_config.py"
  config.write_text(STRIDE_CONFIG.format(config=CONFIG, stride=64))
  logdir = str(tmp_path / "logdir")
  result = run_script(["run.py", "--config_file=" + str(config), "--mode=train", "--logdir=" + logdir,
                       "--max_steps=10", "--eval_steps=100000"], env)
  assert "Warning: 8 of 8 utterances at global step 1 cannot be aligned" in result.stdout
  lines = [line for line in result.stdout.splitlines() if "global_step:" in line]
  assert len(lines) == 2 and all(line.endswith("unalignable utterances: 40 of 40") for line in lines), lines
  with open(os.path.join(logdir, "train_progress.csv"), newline="") as handle:
    rows = list(csv.DictReader(handle))
  assert [(int(row["global_step"]), int(row["unalignable"]), float(row["loss"])) for row in rows] == \
      [(5, 40, 0.0), (10, 40, 0.0)]
  dev_manifest = os.path.join(env["JASPER_MINI_CORPUS"], "librivox-dev-clean.csv")
  dev_rows = len(read_manifests([dev_manifest]))
  evaluation = run_script(["run.py", "--config_file=" + str(config), "--mode=eval", "--logdir=" + logdir], env)
  assert "Warning: {0} of {0} utterances cannot be aligned".format(dev_rows) in evaluation.stdout


@pytest.mark.parametrize("loss_scaling", ["1e38", "1e-30"])
def test_a_fixed_loss_scale_that_zeroes_every_gradient_stops_the_run(env, tmp_path, loss_scaling):
  """float16 gradients overflow (then come out as exactly 0) or underflow to 0: every value stays finite, but the
  weights never move while the loss is ~270 per utterance; the guard must not let such a run end with exit 0."""
  result = run_script(["run.py", "--config_file=" + CONFIG, "--mode=train", "--logdir=" + str(tmp_path / "logdir"),
                       "--max_steps=60", "--eval_steps=100000", "--dtype=mixed", "--loss_scaling=" + loss_scaling],
                      env, check=False)
  assert result.returncode == 1, result.stdout[-2000:]
  errors = [line for line in result.stderr.splitlines() if line.startswith("*** Error:")]
  assert len(errors) == 1 and "every gradient was exactly 0 for 10 consecutive steps" in errors[0], result.stderr
  assert "Traceback" not in result.stderr

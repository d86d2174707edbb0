"""Failure modes of training through run.py: SIGTERM, divergence, a full disk, a killed Horovod rank."""
import os
import resource
import signal
import subprocess
import sys
import time

import numpy as np
import tensorflow.compat.v1 as tf

from tests.e2e.e2e_helpers import CONFIG, REPO, default_stop_signals, read_progress, run_script
from open_seq2seq.utils.checkpoint import checkpoint_is_complete

NAN_CONFIG = os.path.join(REPO, "tests", "e2e", "nan_test_config.py")


def start_training(args, env, **popen_options):
  return subprocess.Popen([sys.executable, "run.py", "--config_file=" + CONFIG, "--mode=train"] + args, cwd=REPO,
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          preexec_fn=default_stop_signals, **popen_options)


def wait_for_line(process, text, timeout=300):
  deadline = time.time() + timeout
  lines = []
  while time.time() < deadline:
    line = process.stdout.readline()
    if not line:
      break
    lines.append(line)
    if text in line:
      return lines
  raise AssertionError("{!r} never appeared:\n{}".format(text, "".join(lines[-30:])))


def test_sigterm_saves_a_final_checkpoint_and_resumes(env, tmp_path):
  logdir = str(tmp_path / "logdir")
  process = start_training(["--logdir=" + logdir, "--max_steps=100000", "--save_checkpoint_steps=100000"], env)
  wait_for_line(process, "global_step:     10")
  process.send_signal(signal.SIGTERM)
  _, stderr = process.communicate(timeout=120)
  assert process.returncode == 128 + signal.SIGTERM, stderr[-2000:]
  assert "Training stopped by SIGTERM; final checkpoint" in stderr
  checkpoint = tf.train.latest_checkpoint(logdir)
  stopped_at = int(tf.train.load_checkpoint(checkpoint).get_tensor("global_step"))
  assert stopped_at >= 10 and "(global step {})".format(stopped_at) in stderr
  resumed = run_script(["run.py", "--config_file=" + CONFIG, "--mode=train", "--logdir=" + logdir,
                        "--max_steps={}".format(stopped_at + 5), "--continue_learning"], env)
  assert "Restored checkpoint from" in resumed.stdout
  assert read_progress(logdir)[-1][0] == stopped_at + 5 - (stopped_at + 5) % 5


def test_diverging_training_stops_and_keeps_finite_checkpoints(env, tmp_path):
  logdir = str(tmp_path / "nan")
  result = run_script(["run.py", "--config_file=" + NAN_CONFIG, "--mode=train", "--logdir=" + logdir,
                       "--max_steps=40"], dict(env, JASPER_NAN_FROM_STEP="6"), check=False)
  assert result.returncode == 1, result.stderr[-2000:]
  assert "Training diverged: non-finite loss or gradients for 4 consecutive steps, the last at global step 7" \
      in result.stderr
  checkpoint = tf.train.latest_checkpoint(logdir)
  assert checkpoint.endswith("model.ckpt-6")
  reader = tf.train.load_checkpoint(checkpoint)
  for name in reader.get_variable_to_shape_map():
    value = reader.get_tensor(name)
    if np.issubdtype(np.asarray(value).dtype, np.floating):
      assert np.all(np.isfinite(value)), name


def _limit_file_size(limit_bytes):
  def apply():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))
  return apply


def test_full_disk_while_saving_is_a_clear_error_and_keeps_earlier_checkpoints(env, tmp_path):
  logdir = str(tmp_path / "full")
  common = ["run.py", "--config_file=" + CONFIG, "--mode=train", "--logdir=" + logdir]
  run_script(common + ["--max_steps=20"], env)
  # Below one checkpoint's data file (about 1.9 MB for the tiny model), as a nearly full disk would be.
  limited = subprocess.run([sys.executable] + common + ["--max_steps=40", "--continue_learning"], cwd=REPO,
                           env=env, capture_output=True, text=True, timeout=600,
                           preexec_fn=_limit_file_size(1_600_000), check=False)
  assert limited.returncode == 1, limited.stderr[-2000:]
  assert "Cannot write to logdir {}".format(logdir) in limited.stderr
  assert "Earlier checkpoints are intact; newest: " in limited.stderr
  newest = tf.train.latest_checkpoint(logdir)
  assert newest.endswith("model.ckpt-20") and checkpoint_is_complete(newest)
  assert not [name for name in os.listdir(logdir) if "tempstate" in name or "_temp" in name]


def _pids_with_argument(text):
  found = subprocess.run(["pgrep", "-f", text], capture_output=True, text=True, check=False).stdout.split()
  return [int(pid) for pid in found]


def _environment(pid):
  try:
    with open("/proc/{}/environ".format(pid), "rb") as handle:
      entries = handle.read().split(b"\0")
  except OSError:
    return {}
  return dict(entry.decode(errors="replace").split("=", 1) for entry in entries if b"=" in entry)


def test_a_dead_rank_ends_the_run_within_bounded_time(env, tmp_path):
  horovodrun = [os.path.join(os.path.dirname(sys.executable), "horovodrun"), "-np", "2", "-H", "localhost:2",
                "--gloo"]
  process = subprocess.Popen(horovodrun + [sys.executable, "run.py", "--config_file=" + CONFIG, "--mode=train",
                                           "--use_horovod=True", "--logdir=" + str(tmp_path / "hvd"),
                                           "--max_steps=100000"],
                             cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             start_new_session=True)
  wait_for_line(process, "global_step:     10")
  rank_one = [pid for pid in _pids_with_argument(str(tmp_path / "hvd")) if _environment(pid).get("HOROVOD_RANK") == "1"]
  assert len(rank_one) == 1, rank_one
  killed_at = time.time()
  os.kill(rank_one[0], signal.SIGKILL)
  try:
    process.communicate(timeout=60)
  except subprocess.TimeoutExpired:
    os.killpg(process.pid, signal.SIGKILL)
    raise AssertionError("the surviving rank was still running 60 s after its peer died") from None
  assert process.returncode != 0
  print("survivor exited {:.1f} s after its peer was killed".format(time.time() - killed_at))
  assert time.time() - killed_at < 60

"""Input failures through run.py: no usable utterance, audio that fails only when decoded, a step stuck inside
TensorFlow on SIGTERM. Each run is a subprocess with a timeout, so a hang fails the test instead of blocking it."""
import csv
import os
import signal
import subprocess
import sys
import time

import numpy as np
import soundfile as sf

from tests.e2e.e2e_helpers import REPO, default_stop_signals
from tests.e2e.test_reliability import wait_for_line

CONFIG = os.path.join(REPO, "tests", "e2e", "data_test_config.py")


def train_manifest(corpus, root, damage=None, count=8):
  """A manifest of the corpus's first ``count`` training rows with absolute paths; ``damage(index, path)`` may
  return the path of a replacement file."""
  with open(os.path.join(corpus, "librivox-train-clean-100.csv"), newline="") as handle:
    rows = list(csv.reader(handle))
  lines = [rows[0]]
  for index, (wav_filename, size, transcript) in enumerate(rows[1:count + 1]):
    path = os.path.join(corpus, wav_filename)
    lines.append([(damage and damage(index, path)) or path, size, transcript])
  manifest = os.path.join(str(root), "train.csv")
  with open(manifest, "w", newline="") as handle:
    csv.writer(handle).writerows(lines)
  return manifest, lines[1:]


def run(args, env, timeout=300):
  return subprocess.run([sys.executable, "run.py", "--config_file=" + CONFIG] + args, cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=timeout, check=False)


def assert_one_error_line(result, *fragments):
  assert result.returncode == 1, result.stderr[-3000:]
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("*** Error: "), result.stderr[-3000:]
  for fragment in fragments:
    assert fragment in lines[0], lines[0]


def _stderr_once_ended(process, seconds, failure):
  """``process``'s stderr once it has exited; killed and ``AssertionError(failure)`` when it runs on past
  ``seconds``."""
  try:
    return process.communicate(timeout=seconds)[1]
  except subprocess.TimeoutExpired:
    process.kill()
    raise AssertionError(failure) from None


def test_training_where_every_file_is_unreadable_is_refused_before_it_starts(env, tmp_path):
  def garbage(index, path):
    del path
    bad = str(tmp_path / "bad{}.wav".format(index))
    with open(bad, "wb") as handle:
      handle.write(np.random.default_rng(index).bytes(2000))
    return bad

  manifest, rows = train_manifest(env["JASPER_MINI_CORPUS"], tmp_path, garbage)
  result = run(["--mode=train", "--logdir=" + str(tmp_path / "log"), "--max_steps=5"],
               dict(env, JASPER_TRAIN_CSV=manifest, JASPER_SKIP_BAD_DATA="1"), timeout=120)
  assert_one_error_line(result, manifest, "hold no usable utterances", "unreadable {}".format(len(rows)))
  assert "Total trainable parameters" not in result.stdout
  for row_number in range(2, len(rows) + 2):
    assert "{} row {})".format(manifest, row_number) in result.stdout


def test_training_where_every_utterance_is_too_long_is_refused_before_it_starts(env, tmp_path):
  manifest, rows = train_manifest(env["JASPER_MINI_CORPUS"], tmp_path)
  shortest = min(sf.info(path).duration for path, _, _ in rows)
  limit = round(shortest / 2, 3)
  result = run(["--mode=train", "--logdir=" + str(tmp_path / "log"), "--max_steps=5"],
               dict(env, JASPER_TRAIN_CSV=manifest, JASPER_MAX_DURATION=str(limit)), timeout=120)
  assert_one_error_line(result, manifest, "too_long {}".format(len(rows)))


def _corrupt_the_middle(corpus_path, flac_path):
  """A FLAC copy whose header and last frame are intact but whose middle is overwritten: only a full decode
  finds it."""
  samples, rate = sf.read(corpus_path, dtype="int16")
  sf.write(flac_path, samples, rate, format="FLAC")
  with open(flac_path, "r+b") as handle:
    size = os.path.getsize(flac_path)
    handle.seek(size // 3)
    handle.write(b"\xab" * 2000)
  try:
    sf.read(flac_path, dtype="int16")
  except RuntimeError:
    return flac_path
  raise AssertionError("the damaged copy still decodes")


def test_audio_that_fails_only_when_decoded_is_one_error_line_or_skipped(env, tmp_path):
  damaged = str(tmp_path / "middle.flac")
  manifest, _ = train_manifest(env["JASPER_MINI_CORPUS"], tmp_path,
                               lambda index, path: _corrupt_the_middle(path, damaged) if index == 2 else None)
  train_env = dict(env, JASPER_TRAIN_CSV=manifest)
  result = run(["--mode=train", "--logdir=" + str(tmp_path / "strict"), "--max_steps=10"], train_env)
  assert_one_error_line(result, "Cannot read audio file {}".format(damaged), "({} row 4)".format(manifest))
  skipped = run(["--mode=train", "--logdir=" + str(tmp_path / "skip"), "--max_steps=10"],
                dict(train_env, JASPER_SKIP_BAD_DATA="1"))
  assert skipped.returncode == 0, skipped.stderr[-3000:]
  assert "skipped 1 utterance(s)" in skipped.stdout and "Finished training" in skipped.stdout
  evaluation = run(["--mode=eval", "--logdir=" + str(tmp_path / "skip")], dict(env, JASPER_EVAL_CSV=manifest))
  assert_one_error_line(evaluation, "Cannot read audio file {}".format(damaged), "({} row 4)".format(manifest))


def _start(args, env):
  return subprocess.Popen([sys.executable, "run.py", "--config_file=" + CONFIG] + args, cwd=REPO, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_stop_signals)


def test_sigterm_ends_a_step_stuck_inside_tensorflow(env, tmp_path):
  # From step 7 the training input never arrives: the main thread never returns from sess.run.
  stalled = dict(env, JASPER_STALL_FROM_STEP="7")
  process = _start(["--mode=train", "--logdir=" + str(tmp_path / "grace"), "--max_steps=1000",
                    "--stop_grace_secs=5"], stalled)
  wait_for_line(process, "global_step:      5")
  time.sleep(3)
  sent = time.time()
  process.send_signal(signal.SIGTERM)
  stderr = _stderr_once_ended(process, 60, "still running 60 s after SIGTERM")
  assert process.returncode == 128 + signal.SIGTERM
  assert 4 <= time.time() - sent < 60
  assert stderr.strip().splitlines() == [
      "*** Stopped by SIGTERM: the main thread did not stop within 5 s (blocked in TensorFlow: an input pipeline "
      "that yields nothing, or a step that never ends); no final checkpoint"]


def test_a_second_signal_ends_a_stuck_step_at_once(env, tmp_path):
  process = _start(["--mode=train", "--logdir=" + str(tmp_path / "twice"), "--max_steps=1000",
                    "--stop_grace_secs=600"], dict(env, JASPER_STALL_FROM_STEP="7"))
  wait_for_line(process, "global_step:      5")
  time.sleep(3)
  process.send_signal(signal.SIGINT)
  time.sleep(1)
  process.send_signal(signal.SIGINT)
  stderr = _stderr_once_ended(process, 30, "still running 30 s after the second SIGINT")
  assert process.returncode == 128 + signal.SIGINT
  assert stderr.strip().splitlines() == ["*** Stopped by SIGINT: second signal; no final checkpoint"]


STUCK_EVALUATION = """
import signal, sys, time
import tensorflow.compat.v1 as tf
from open_seq2seq.training.stop_signals import StopOnSignal
tf.disable_eager_execution()
endless = tf.while_loop(lambda i: i >= 0, lambda i: i + 1, [tf.constant(0, tf.int64)])
with StopOnSignal(float(sys.argv[1]), stops_evaluation=True), tf.Session() as sess:
  print("ready", flush=True)
  sess.run(endless)
"""


def test_an_evaluation_stuck_inside_tensorflow_ends_on_sigterm(tmp_path):
  process = subprocess.Popen([sys.executable, "-c", STUCK_EVALUATION, "2"], cwd=REPO,
                             env=dict(os.environ, PYTHONPATH=REPO), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
  assert process.stdout.readline().strip() == "ready"
  time.sleep(1)
  process.send_signal(signal.SIGTERM)
  stderr = _stderr_once_ended(process, 30, "still running 30 s after SIGTERM")
  assert process.returncode == 128 + signal.SIGTERM
  assert stderr.strip().splitlines()[-1].startswith("*** Stopped by SIGTERM: the main thread did not stop within 2 s")



def test_a_signal_while_the_model_is_built_ends_the_run_in_one_line(env, tmp_path):
  # "Audio scan" is printed while the data layer is built: before the training loop takes over the signals.
  for number in (signal.SIGTERM, signal.SIGINT):
    logdir = tmp_path / signal.Signals(number).name
    process = _start(["--mode=train", "--logdir=" + str(logdir), "--max_steps=1000"], env)
    wait_for_line(process, "Audio scan")
    process.send_signal(number)
    stderr = _stderr_once_ended(process, 60, "still running 60 s after {}".format(number))
    assert process.returncode == 128 + number, stderr[-3000:]
    assert stderr.strip().splitlines() == ["*** Stopped by {} outside the training or evaluation loop; no step was "
                                           "interrupted".format(signal.Signals(number).name)]
    assert not logdir.exists() or not [name for name in os.listdir(str(logdir)) if ".index" in name]

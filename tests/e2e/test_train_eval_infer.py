"""End to end: synthesize a small corpus, import it, train the tiny config through run.py, resume it,
evaluate and infer, as a user would from the command line."""
import csv
import os

import pytest
import tensorflow.compat.v1 as tf

from open_seq2seq.data.speech2text.manifest import read_manifests
from open_seq2seq.data.speech2text.predictions import read_predictions
from tests.e2e.e2e_helpers import CONFIG, read_progress, run_script, summary_tags


def test_train_resume_eval_infer(corpus, env, tmp_path):
  logdir = str(tmp_path / "logdir")
  common = ["run.py", "--config_file=" + CONFIG, "--logdir=" + logdir]
  first = run_script(common + ["--mode=train", "--max_steps=40"], env)
  assert "Starting training from scratch" in first.stdout
  assert "global_step:     40" in first.stdout
  progress = read_progress(logdir)
  assert [step for step, _ in progress] == [5, 10, 15, 20, 25, 30, 35, 40]
  losses = [loss for _, loss in progress]
  # batch losses scale with the batch's transcript lengths, so compare the untrained start with a later average
  assert sum(losses[-4:]) / 4 < 0.75 * losses[0], losses
  assert os.path.exists(os.path.join(logdir, "model.ckpt-40.index"))
  assert {"train_loss", "learning_rate", "Loss_Optimization/global_gradient_norm"} <= summary_tags(logdir)

  refused = run_script(common + ["--mode=train", "--max_steps=50"], env, check=False)
  assert refused.returncode != 0
  assert "Log directory is not empty" in refused.stderr

  resumed = run_script(common + ["--mode=train", "--max_steps=50", "--continue_learning"], env)
  assert "Restored checkpoint from" in resumed.stdout and "model.ckpt-40" in resumed.stdout
  assert [step for step, _ in read_progress(logdir)][-2:] == [45, 50]
  assert os.path.exists(os.path.join(logdir, "model.ckpt-50.index"))

  evaluation = run_script(common + ["--mode=eval"], env)
  assert "model.ckpt-50" in evaluation.stdout
  wer_lines = [line for line in evaluation.stdout.splitlines() if "Validation WER" in line]
  assert wer_lines and 0.0 <= float(wer_lines[-1].split()[-1]) <= 5.0

  transferred_dir = str(tmp_path / "transferred")
  transferred = run_script(["run.py", "--config_file=" + CONFIG, "--logdir=" + transferred_dir, "--mode=train",
                            "--max_steps=5", "--load_model=" + logdir], env)
  assert "Starting training from the base model" in transferred.stdout
  assert "Initialising from the base model" in transferred.stdout and "model.ckpt-50" in transferred.stdout
  transferred_loss = read_progress(transferred_dir)[0][1]
  assert transferred_loss < 0.8 * progress[0][1], (transferred_loss, progress[0])

  output = str(tmp_path / "predictions.csv")
  run_script(common + ["--mode=infer", "--infer_output_file=" + output], env)
  manifest = read_manifests([os.path.join(corpus, "librivox-test-clean.csv")])
  assert list(read_predictions(output)) == [row.wav_filename for row in manifest]


def test_unknown_config_key_is_named(env, tmp_path):
  result = run_script(["run.py", "--config_file=" + CONFIG, "--mode=train", "--logdir=" + str(tmp_path / "x"),
                       "--data_layer_params/no_such_key=1"], env, check=False)
  assert result.returncode == 1
  assert "no_such_key" in result.stderr


def test_eval_without_checkpoint_is_refused(env, tmp_path):
  result = run_script(["run.py", "--config_file=" + CONFIG, "--mode=eval", "--logdir=" + str(tmp_path / "empty")],
                      env, check=False)
  assert result.returncode == 1
  assert "empty or missing" in result.stderr


def test_base_model_without_checkpoint_is_refused(env, tmp_path):
  result = run_script(["run.py", "--config_file=" + CONFIG, "--mode=train", "--logdir=" + str(tmp_path / "new"),
                       "--load_model=" + str(tmp_path)], env, check=False)
  assert result.returncode == 1
  assert "load_model=" in result.stderr and "no checkpoint" in result.stderr


def test_enable_logs_records_the_run(env, tmp_path):
  logdir = tmp_path / "logged"
  run_script(["run.py", "--config_file=" + CONFIG, "--mode=train", "--logdir=" + str(logdir), "--max_steps=5",
              "--enable_logs"], env)
  names = os.listdir(str(logdir))
  for prefix in ("config_", "cmd-args_", "git-info_", "stdout_", "stderr_"):
    assert any(name.startswith(prefix) for name in names), (prefix, names)
  stdout_log = [name for name in names if name.startswith("stdout_")][0]
  assert "global_step:      5" in (logdir / stdout_log).read_text()
  cmd_args = [name for name in names if name.startswith("cmd-args_")][0]
  assert "--enable_logs" in (logdir / cmd_args).read_text()
  assert os.path.exists(str(logdir / "logs" / "model.ckpt-5.index"))


def test_bfloat16_with_gradient_accumulation_then_float32_eval(env, tmp_path):
  """--dtype=bfloat16 --iter_size=2 trains through run.py (two runs per global step); the checkpoint's float32
  master copies then serve a float32 evaluation."""
  logdir = str(tmp_path / "bf16")
  common = ["run.py", "--config_file=" + CONFIG, "--logdir=" + logdir]
  trained = run_script(common + ["--mode=train", "--max_steps=10", "--dtype=bfloat16", "--iter_size=2"], env)
  assert "shape: [11, 64, 64], bfloat16" in trained.stdout
  assert [step for step, _ in read_progress(logdir)] == [5, 10]
  evaluation = run_script(common + ["--mode=eval", "--dtype=float32"], env)
  assert "model.ckpt-10" in evaluation.stdout and "Not restoring" not in evaluation.stdout
  assert any("Validation WER" in line for line in evaluation.stdout.splitlines())


def test_mixed_float16_training_resumes_with_its_loss_scale(env, tmp_path):
  logdir = str(tmp_path / "fp16")
  common = ["run.py", "--config_file=" + CONFIG, "--logdir=" + logdir, "--dtype=mixed", "--mode=train"]
  run_script(common + ["--max_steps=5"], env)
  resumed = run_script(common + ["--max_steps=10", "--continue_learning"], env)
  assert "Restored checkpoint from" in resumed.stdout
  assert [step for step, _ in read_progress(logdir)] == [5, 10]
  stored = dict(tf.train.list_variables(os.path.join(logdir, "model.ckpt-10")))
  assert "Loss_Optimization/Variable_2" in stored
  assert "Loss_Optimization/FP32-master-copy/ForwardPass/w2l_encoder/conv11/kernel" in stored


def test_train_eval_and_eval_use_the_moving_averages(env, tmp_path):
  """With ema_decay, train_eval's evaluations read the moving averages the checkpoint keeps, and --mode=eval on
  that checkpoint restores them: both report the same dev loss and WER."""
  config = os.path.join(os.path.dirname(__file__), "ema_test_config.py")
  logdir = str(tmp_path / "ema")
  common = ["run.py", "--config_file=" + config, "--logdir=" + logdir]
  trained = run_script(common + ["--mode=train_eval", "--max_steps=10", "--eval_steps=5"], env)
  count = trained.stdout.split("Total trainable parameters")[0].count("shape: [")  # one line per trainable variable
  assert "Evaluating with the exponential moving averages of {} weights".format(count) in trained.stdout
  with open(os.path.join(logdir, "eval_history.csv"), newline="") as handle:
    history = [(int(step), float(loss), float(wer)) for step, loss, wer in list(csv.reader(handle))[1:]]
  assert [step for step, _, _ in history] == [5, 10]
  stored = dict(tf.train.list_variables(os.path.join(logdir, "model.ckpt-10")))
  assert "ForwardPass/w2l_encoder/conv11/kernel/ExponentialMovingAverage" in stored
  assert not any(name.endswith("moving_mean/ExponentialMovingAverage") for name in stored)
  evaluation = run_script(common + ["--mode=eval"], env)
  assert "Restoring the exponential moving averages of {} weights".format(count) in evaluation.stdout
  lines = evaluation.stdout.splitlines()
  loss = float([line for line in lines if "Validation loss" in line][-1].split()[-1])
  wer = float([line for line in lines if "Validation WER" in line][-1].split()[-1])
  assert loss == pytest.approx(history[-1][1], abs=1e-3) and wer == pytest.approx(history[-1][2], abs=1e-4)


def test_resuming_without_moving_averages_with_ema_decay_is_one_clear_error(env, tmp_path):
  config = os.path.join(os.path.dirname(__file__), "ema_test_config.py")
  logdir = str(tmp_path / "plain")
  common = ["run.py", "--config_file=" + config, "--logdir=" + logdir, "--mode=train"]
  run_script(common + ["--max_steps=2", "--ema_decay=0"], env)
  resumed = run_script(common + ["--max_steps=4", "--continue_learning"], env, check=False)
  assert resumed.returncode == 1
  assert "holds no moving averages of the weights" in resumed.stderr + resumed.stdout
  assert "Traceback" not in resumed.stderr
  # the same checkpoint resumes with the averaging off
  run_script(common + ["--max_steps=4", "--continue_learning", "--ema_decay=0"], env)


def test_infer_logits_to_pickle_matches_the_transcripts(corpus, env, tmp_path):
  """--decoder_params/infer_logits_to_pickle=True writes per-utterance logits of the valid frames only, whose
  greedy CTC decoding (done here in numpy) gives the transcripts of the normal infer CSV; the file is a plain
  .npz archive that numpy reads without unpickling."""
  import json
  import numpy as np
  import soundfile as sf
  logdir = str(tmp_path / "logdir")
  common = ["run.py", "--config_file=" + CONFIG, "--logdir=" + logdir]
  run_script(common + ["--mode=train", "--max_steps=30"], env)
  transcripts, logits_file = str(tmp_path / "out.csv"), str(tmp_path / "logits.npz")
  run_script(common + ["--mode=infer", "--infer_output_file=" + transcripts], env)
  run_script(common + ["--mode=infer", "--infer_output_file=" + logits_file,
                       "--decoder_params/infer_logits_to_pickle=True"], env)
  with np.load(logits_file, allow_pickle=False) as archive:
    index = json.loads(archive["index"].tobytes().decode("utf-8"))
    stored = {"step_size": index["step_size"], "vocab": index["vocab"],
              "logits": {name: archive["logits_{}".format(i)] for i, name in enumerate(index["wav_filenames"])}}
  expected = read_predictions(transcripts)
  assert stored["step_size"] == 0.02 and len(stored["vocab"]) == 28
  assert set(stored["logits"]) == set(expected)
  blank = len(stored["vocab"])
  for name, logits in stored["logits"].items():
    frames = 1 + sf.info(os.path.join(corpus, name)).frames // 160  # 10 ms hop at 16 kHz
    assert logits.shape == ((frames + 1) // 2, 29)  # the stride-2 first layer halves the frames
    best = np.argmax(logits, axis=1)
    collapsed = [int(c) for i, c in enumerate(best) if c != blank and (i == 0 or c != best[i - 1])]
    assert "".join(stored["vocab"][c] for c in collapsed) == expected[name], name

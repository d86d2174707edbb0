"""Two real Horovod processes (Gloo) on this machine, launched with horovodrun as a user would."""
import csv
import glob
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from open_seq2seq.data.speech2text.predictions import read_predictions
from open_seq2seq.utils.config import write_eval_set_infer_config
from tests.e2e.e2e_helpers import REPO, read_progress, run_script

CONFIG = os.path.join(REPO, "tests", "e2e", "horovod_test_config.py")
DATA_CONFIG = os.path.join(REPO, "tests", "e2e", "data_test_config.py")
HOROVODRUN = [os.path.join(os.path.dirname(sys.executable), "horovodrun"), "-np", "2", "-H", "localhost:2",
              "--gloo"]


def load_weights(path):
  with np.load(path) as archive:
    return {name.replace("|", "/"): archive[name] for name in archive.files}


def metric_lines(stdout):
  """The validation loss/WER lines, without horovodrun's ``[rank]<stdout>:`` prefix."""
  return [line.split("*** ", 1)[1] for line in stdout.splitlines() if "Validation " in line]


@pytest.fixture(scope="module")
def trained(env, tmp_path_factory):
  """Trains the deterministic tiny config with 2 processes and with 1 process; returns both run folders."""
  root = tmp_path_factory.mktemp("horovod")
  runs = {}
  for name, launcher, use_horovod in [("two", HOROVODRUN, "True"), ("one", None, "False")]:
    weights_dir = root / (name + "_weights")
    weights_dir.mkdir()
    logdir = str(root / (name + "_logdir"))
    result = run_script(["run.py", "--config_file=" + CONFIG, "--mode=train", "--logdir=" + logdir,
                         "--use_horovod=" + use_horovod], dict(env, JASPER_WEIGHTS_DIR=str(weights_dir)),
                        launcher=launcher)
    runs[name] = {"logdir": logdir, "weights": str(weights_dir), "stdout": result.stdout}
  return runs


def test_both_ranks_end_with_the_single_process_weights(trained):
  rank0 = load_weights(os.path.join(trained["two"]["weights"], "rank0.npz"))
  rank1 = load_weights(os.path.join(trained["two"]["weights"], "rank1.npz"))
  single = load_weights(os.path.join(trained["one"]["weights"], "rank0.npz"))
  initial_kernel = "ForwardPass/w2l_encoder/conv11/kernel"
  assert set(rank0) == set(rank1) == set(single) and initial_kernel in rank0
  for name in single:
    np.testing.assert_array_equal(rank0[name], rank1[name], err_msg=name)
    np.testing.assert_allclose(rank0[name], single[name], rtol=1e-5, atol=1e-6, err_msg=name)


def test_only_rank_0_writes(trained):
  logdir = trained["two"]["logdir"]
  assert len(glob.glob(os.path.join(logdir, "events.out.tfevents.*"))) == 1
  assert [step for step, _ in read_progress(logdir)] == [2, 4, 6]
  assert os.path.exists(os.path.join(logdir, "model.ckpt-6.index"))
  stdout = trained["two"]["stdout"]
  assert "[0]<stdout>:*** global_step:      6" in stdout
  assert "[1]<stdout>:***" not in stdout
  assert "Data-parallel run: 2 workers" in stdout


def test_distributed_eval_and_infer_match_single_process(trained, env, tmp_path):
  logdir = trained["one"]["logdir"]
  common = ["run.py", "--config_file=" + CONFIG, "--logdir=" + logdir]
  single = run_script(common + ["--mode=eval", "--use_horovod=False"], env)
  distributed = run_script(common + ["--mode=eval", "--use_horovod=True"], env, launcher=HOROVODRUN)
  assert metric_lines(single.stdout) and metric_lines(distributed.stdout) == metric_lines(single.stdout)
  outputs = {}
  for name, launcher, use_horovod in [("one", None, "False"), ("two", HOROVODRUN, "True")]:
    outputs[name] = str(tmp_path / (name + ".csv"))
    run_script(common + ["--mode=infer", "--use_horovod=" + use_horovod, "--infer_output_file=" + outputs[name]],
               env, launcher=launcher)
  with open(outputs["one"]) as one, open(outputs["two"]) as two:
    single_rows, distributed_rows = one.read(), two.read()
  assert distributed_rows == single_rows and len(single_rows.splitlines()) == 7


def test_checkpoint_of_a_distributed_run_restores_in_one_process(trained):
  stored = dict(tf.train.list_variables(trained["two"]["logdir"]))
  assert stored["ForwardPass/w2l_encoder/conv11/kernel"] == [11, 64, 64] and stored["global_step"] == []


def horovodrun(num_processes):
  return [HOROVODRUN[0], "-np", str(num_processes), "-H", "localhost:{}".format(num_processes), "--gloo"]


def word_error_rate(references, hypotheses):
  """Corpus WER by a word-level Levenshtein distance written here (the oracle of the eval runs)."""
  edits = words = 0
  for reference, hypothesis in zip(references, hypotheses):
    ref, hyp = reference.split(), hypothesis.split()
    row = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
      previous, row[0] = row[0], i
      for j, hyp_word in enumerate(hyp, start=1):
        previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ref_word != hyp_word))
    edits += row[-1]
    words += len(ref)
  return edits / words


@pytest.mark.parametrize("num_rows", [1, 2])
def test_eval_and_infer_with_fewer_utterances_than_processes(trained, env, tmp_path, num_rows):
  with open(os.path.join(env["JASPER_MINI_CORPUS"], "librivox-dev-clean.csv"), newline="") as handle:
    header, *rows = list(csv.reader(handle))[:num_rows + 1]
  rows = [[os.path.join(env["JASPER_MINI_CORPUS"], row[0])] + row[1:] for row in rows]
  manifest = str(tmp_path / "small.csv")
  with open(manifest, "w", newline="") as handle:
    csv.writer(handle).writerows([header] + rows)
  config = write_eval_set_infer_config(CONFIG, str(tmp_path / "small_config.py"), [manifest])
  common = ["run.py", "--config_file=" + config, "--logdir=" + trained["one"]["logdir"]]
  metrics, predictions = {}, {}
  for num_processes in (1, 2, 3):
    launcher = horovodrun(num_processes) if num_processes > 1 else None
    horovod = "--use_horovod={}".format(num_processes > 1)
    metrics[num_processes] = metric_lines(run_script(common + ["--mode=eval", horovod], env, launcher=launcher).stdout)
    output = str(tmp_path / "infer{}.csv".format(num_processes))
    run_script(common + ["--mode=infer", horovod, "--infer_output_file=" + output], env, launcher=launcher)
    predictions[num_processes] = list(read_predictions(output).items())
  assert metrics[1] and metrics[2] == metrics[1] and metrics[3] == metrics[1]
  assert predictions[2] == predictions[1] and predictions[3] == predictions[1]
  assert [name for name, _ in predictions[1]] == [row[0] for row in rows]
  wer = word_error_rate([row[2] for row in rows], [transcript for _, transcript in predictions[1]])
  assert "Validation WER:  {:.4f}".format(wer) in "\n".join(metrics[1])


def test_training_with_fewer_utterances_than_processes(env, tmp_path):
  with open(os.path.join(env["JASPER_MINI_CORPUS"], "librivox-train-clean-100.csv"), newline="") as handle:
    header, first = list(csv.reader(handle))[:2]
  manifest = str(tmp_path / "one.csv")
  with open(manifest, "w", newline="") as handle:
    csv.writer(handle).writerows([header, [os.path.join(env["JASPER_MINI_CORPUS"], first[0])] + first[1:]])
  result = subprocess.run(horovodrun(3) + [sys.executable, "run.py", "--config_file=" + DATA_CONFIG, "--mode=train",
                                           "--use_horovod=True", "--logdir=" + str(tmp_path / "log"), "--max_steps=3"],
                          cwd=REPO, env=dict(env, JASPER_TRAIN_CSV=manifest), capture_output=True, text=True,
                          timeout=300, check=False)
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  assert "Finished training" in result.stdout and os.path.exists(str(tmp_path / "log" / "model.ckpt-3.index"))

"""The launch scripts of scripts/ (run_1p/train_1p, run_8p/train_8p, run_eval/eval_1p, train_performance) run
as a user runs them: real training of the tiny config on the synthesized test corpus, a few steps each."""
import json
import os
import re
import subprocess
import sys

import pytest

from open_seq2seq.distributed.rank_table import RankTableError, load_rank_table
from tests.e2e.e2e_helpers import REPO

SCRIPTS = os.path.join(REPO, "scripts")
TINY = os.path.join(REPO, "configs", "speech2text", "jasper_tiny_nvgrad.py")
TABLES = os.path.join(REPO, "tests", "distributed", "data")
ONE_SERVER = os.path.join(TABLES, "rank_table_1server_2devices.json")
TWO_SERVERS = os.path.join(TABLES, "rank_table_2servers_2devices.json")
FAKE_NPU_BRIDGE = os.path.join(REPO, "tests", "distributed", "fake_npu_bridge")



def run(script, *args, env=None, timeout=600):
  return subprocess.run(["bash", os.path.join(SCRIPTS, script)] + list(args), cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=timeout, check=False)


def describe(result):
  return "exit {}\n--- stdout\n{}\n--- stderr\n{}".format(result.returncode, result.stdout[-4000:],
                                                          result.stderr[-4000:])


def last_line(text):
  return text.rstrip("\n").splitlines()[-1]


def script_env(**extra):
  """This interpreter's environment, the CPU path (a GPU or Ascend machine would take another)."""
  environment = dict(os.environ, JASPER_VENV=sys.prefix, JASPER_BACKEND="cpu", PYTHONPATH=REPO)
  environment.update(extra)
  return environment


def ascend_env(**extra):
  """The test double of npu_bridge on the path: the scripts take the Ascend route."""
  environment = script_env(**extra)
  del environment["JASPER_BACKEND"]
  environment["PYTHONPATH"] = REPO + os.pathsep + FAKE_NPU_BRIDGE
  return environment


@pytest.mark.parametrize("script", ["run_1p.sh", "train_1p.sh", "run_8p.sh", "train_8p.sh", "run_eval.sh",
                                    "eval_1p.sh", "train_performance.sh"])
def test_help(script):
  result = run(script, "--help", env=script_env())
  assert result.returncode == 0, describe(result)
  assert "Usage: scripts/" + script in result.stdout


# run_8p.sh --dry_run


def test_dry_run_one_server_is_one_local_horovodrun(tmp_path):
  result_dir = tmp_path / "8p"
  result = run("run_8p.sh", "--dry_run", "--rank_table=" + ONE_SERVER, "--config_file=" + TINY,
               "--result_dir=" + str(result_dir), "--max_steps=4", env=script_env())
  assert result.returncode == 0, describe(result)
  commands = [line for line in result.stdout.splitlines() if "horovodrun" in line and not line.startswith("#")]
  assert len(commands) == 1, result.stdout
  words = commands[0].split()
  assert words[0] == os.path.join(sys.prefix, "bin", "horovodrun")
  assert words[1:6] == ["-np", "2", "-H", "localhost:2", "--gloo"]
  assert words[6:8] == [os.path.join(sys.prefix, "bin", "python"), os.path.join(REPO, "run.py")]
  assert "--config_file=" + TINY in words and "--mode=train" in words and "--use_horovod=True" in words
  assert "--logdir=" + str(result_dir / "jasper_log_folder") in words and "--enable_logs" in words
  assert words[-1] == "--max_steps=4" and "--continue_learning" not in words
  assert "turing" not in result.stdout
  assert not result_dir.exists()  # a dry run creates nothing


def test_dry_run_two_servers_is_a_two_host_horovodrun():
  result = run("run_8p.sh", "--dry_run", "--rank_table=" + TWO_SERVERS, env=script_env())
  assert result.returncode == 0, describe(result)
  assert " -np 4 -H 10.0.0.11:2,10.0.0.12:2 --gloo " in result.stdout


def test_dry_run_ascend_one_train_8p_per_device_of_this_server(tmp_path):
  result = run("run_8p.sh", "--dry_run", "--rank_table=" + TWO_SERVERS, "--server_id=10.0.0.12",
               "--result_dir=" + str(tmp_path), "--dtype=float32", env=ascend_env(JOB_ID="10087"))
  assert result.returncode == 0, describe(result)
  commands = [line.split() for line in result.stdout.splitlines() if line.startswith("env ")]
  assert len(commands) == 2, result.stdout
  for command, rank, device in zip(commands, (2, 3), (0, 1)):
    environment = dict(word.split("=", 1) for word in command[1:command.index("bash")])
    assert environment == {"RANK_SIZE": "4", "RANK_ID": str(rank), "DEVICE_INDEX": str(rank),
                           "DEVICE_ID": str(device), "ASCEND_DEVICE_ID": str(device), "JOB_ID": "10087",
                           "RANK_TABLE_FILE": TWO_SERVERS}
    assert command[command.index("bash") + 1] == os.path.join(SCRIPTS, "train_8p.sh")
    assert "--logdir=" + str(tmp_path / "jasper_log_folder") in command
    assert "--resume=no" in command and command[-1] == "--dtype=float32"


def test_dry_run_ascend_needs_to_know_its_server():
  result = run("run_8p.sh", "--dry_run", "--rank_table=" + TWO_SERVERS, env=ascend_env())
  assert result.returncode != 0
  assert "pass --server_id" in result.stderr


def test_malformed_table_stops_with_the_rank_table_error(tmp_path):
  table = json.load(open(ONE_SERVER))
  table["server_list"][0]["device"][1]["rank_id"] = "0"
  path = tmp_path / "duplicate_rank.json"
  path.write_text(json.dumps(table))
  with pytest.raises(RankTableError) as expected:
    load_rank_table(str(path))
  for dry_run in (["--dry_run"], []):
    result = run("run_8p.sh", "--rank_table=" + str(path), "--result_dir=" + str(tmp_path / "8p"), *dry_run,
                 env=script_env())
    assert result.returncode != 0
    assert str(expected.value) in result.stderr
    assert "duplicate rank_id 0" in result.stderr
    assert last_line(result.stdout) == "turing train fail"
    assert not (tmp_path / "8p").exists()


# train_1p.sh / run_eval.sh


@pytest.fixture(scope="module")
def trained_1p(corpus, tmp_path_factory):
  """Two train_1p.sh calls into one result folder: 4 steps, then resumed to 8."""
  result_dir = str(tmp_path_factory.mktemp("result") / "1p")
  common = ["--config_file=" + TINY, "--data_root=" + corpus, "--result_dir=" + result_dir]
  first = run("train_1p.sh", *common, "--max_steps=4", env=script_env())
  first_log = open(os.path.join(result_dir, "train_0.log")).read()
  second = run("train_1p.sh", *common, "--max_steps=8", env=script_env())
  return result_dir, first, first_log, second


def test_train_1p_trains(trained_1p):
  result_dir, first, first_log, _ = trained_1p
  assert first.returncode == 0, describe(first)
  assert last_line(first.stdout) == "turing train success"
  assert last_line(first_log) == "turing train success"
  assert "Starting training from scratch" in first_log
  command = first_log.splitlines()[1]
  assert "--continue_learning" not in command
  assert "--use_horovod=False --num_gpus=1" in command and "--enable_logs" in command
  assert "--logdir=" + os.path.join(result_dir, "0", "jasper_log_folder") in command


def test_train_1p_resumes_and_appends_to_its_log(trained_1p):
  result_dir, _, first_log, second = trained_1p
  assert second.returncode == 0, describe(second)
  log = open(os.path.join(result_dir, "train_0.log")).read()
  assert log.startswith(first_log)  # appended
  resumed = log[len(first_log):]
  assert "--continue_learning" in resumed.splitlines()[1]
  assert "Restored checkpoint from" in resumed and "model.ckpt-4" in resumed
  assert last_line(log) == "turing train success"
  assert os.path.isfile(os.path.join(result_dir, "0", "jasper_log_folder", "logs", "model.ckpt-8.index"))


def test_run_eval_evaluates_the_latest_checkpoint(trained_1p, corpus):
  result_dir = trained_1p[0]
  result = run("run_eval.sh", "--result_dir=" + result_dir, "--data_root=" + corpus, env=script_env())
  assert result.returncode == 0, describe(result)
  assert re.search(r"Validation WER:\s+\d+\.\d+", result.stdout), result.stdout
  assert "model.ckpt-8" in result.stdout
  assert last_line(result.stdout) == "turing eval success"
  log = open(os.path.join(result_dir, "eval_0.log")).read()
  assert "--config_file=" + TINY in log.splitlines()[1]  # the config that trained it, read from its record
  assert last_line(log) == "turing eval success"


def test_train_1p_failure_ends_with_fail(corpus, tmp_path):
  result = run("train_1p.sh", "--config_file=" + TINY, "--data_root=" + corpus, "--result_dir=" + str(tmp_path),
               "--max_steps=4", "--no_such_key=1", env=script_env())
  assert result.returncode != 0
  assert "Unknown config override" in result.stdout
  assert last_line(result.stdout) == "turing train fail"
  assert last_line(open(str(tmp_path / "train_0.log")).read()) == "turing train fail"


def test_train_1p_will_not_resume_a_logdir_without_checkpoint(tmp_path):
  logdir = tmp_path / "3" / "jasper_log_folder"
  logdir.mkdir(parents=True)
  (logdir / "config_2020-01-01_00-00-00.py").write_text("")
  result = run("train_1p.sh", "3", "--config_file=" + TINY, "--result_dir=" + str(tmp_path), env=script_env())
  assert result.returncode != 0
  assert "holds no checkpoint to resume" in result.stderr
  assert last_line(result.stdout) == "turing train fail"


def test_eval_without_checkpoint_is_a_clear_error(tmp_path):
  result = run("run_eval.sh", "--result_dir=" + str(tmp_path), env=script_env())
  assert result.returncode != 0
  assert "no checkpoint to evaluate" in result.stderr
  assert last_line(result.stdout) == "turing eval fail"


def test_train_performance_1p(corpus, tmp_path):
  out = tmp_path / "perf"
  result = run("train_performance.sh", "--steps=5", "--config_file=" + TINY, "--data_root=" + corpus,
               "--output_dir=" + str(out), env=script_env())
  assert result.returncode == 0, describe(result)
  log = (out / "train.log").read_text()
  lines = [line for line in log.splitlines() if "global_step:" in line]
  assert len(lines) == 5  # --benchmark prints every step
  last_fps = float(re.search(r"FPS:\s*([\d.]+)", lines[-1]).group(1))
  assert "Final Performance images/sec : {:.2f}\n".format(last_fps) in result.stdout
  assert "E2E Training Duration sec : " in result.stdout
  name = "Jasper_ID0020_for_TensorFlow_bs8_1p_perf"
  summary = dict(line.split(" = ", 1) for line in (out / (name + ".log")).read_text().splitlines())
  assert summary["RankSize"] == "1" and summary["BatchSize"] == "8"
  assert float(summary["TrainingTime"]) == pytest.approx(8 * 1000 / last_fps, rel=1e-3, abs=0.01)
  losses = (out / ("train_" + name + "_loss.txt")).read_text().split()
  assert losses == [re.search(r"\bloss:\s*([\d.]+)", line).group(1) for line in lines]
  assert summary["ActualLoss"] == losses[-1]
  assert [path.name for path in out.iterdir() if path.name.startswith("run.")] == []  # throwaway removed


# Two ranks on this machine


def test_run_8p_two_ranks_train_resume_and_evaluate(corpus, tmp_path):
  result_dir = tmp_path / "8p"
  common = ["--rank_table=" + ONE_SERVER, "--config_file=" + TINY, "--data_root=" + corpus,
            "--result_dir=" + str(result_dir)]
  first = run("run_8p.sh", *common, "--max_steps=4", env=script_env())
  assert first.returncode == 0, describe(first)
  assert last_line(first.stdout) == "turing train success"
  logs = result_dir / "jasper_log_folder" / "logs"
  assert (logs / "model.ckpt-4.index").is_file()
  assert "Data-parallel run: 2 workers" in first.stdout

  second = run("run_8p.sh", *common, "--max_steps=6", env=script_env())
  assert second.returncode == 0, describe(second)
  log = (result_dir / "train.log").read_text()
  assert log.count("turing train success") == 2
  assert "--continue_learning" in log.split("turing train success")[1].splitlines()[2]
  assert (logs / "model.ckpt-6.index").is_file()

  evaluation = run("run_eval.sh", "--result_dir=" + str(result_dir), "--data_root=" + corpus, env=script_env())
  assert evaluation.returncode == 0, describe(evaluation)
  assert "Validation WER" in evaluation.stdout and "model.ckpt-6" in evaluation.stdout
  assert last_line(evaluation.stdout) == "turing eval success"


def test_train_performance_two_ranks_reports_global_fps(corpus, tmp_path):
  out = tmp_path / "perf"
  result = run("train_performance.sh", "--steps=4", "--rank_table=" + ONE_SERVER, "--config_file=" + TINY,
               "--data_root=" + corpus, "--output_dir=" + str(out), env=script_env())
  assert result.returncode == 0, describe(result)
  lines = [line for line in (out / "train.log").read_text().splitlines() if "global_step:" in line]
  assert lines and all(line.startswith("[0]<stdout>:") for line in lines)
  rank0_fps = float(re.search(r"FPS:\s*([\d.]+)", lines[-1]).group(1))
  assert "Final Performance images/sec : {:.2f}\n".format(2 * rank0_fps) in result.stdout
  summary = (out / "Jasper_ID0020_for_TensorFlow_bs8_2p_perf.log").read_text()
  assert "RankSize = 2\n" in summary


def test_run_8p_ascend_reports_each_failed_rank(tmp_path):
  """The Ascend launcher (test double of npu_bridge): every rank fails on a bad override."""
  result = run("run_8p.sh", "--rank_table=" + ONE_SERVER, "--config_file=" + TINY,
               "--result_dir=" + str(tmp_path), "--no_such_key=1", env=ascend_env())
  assert result.returncode != 0
  assert "rank 0 (device 0): FAILED" in result.stdout and "rank 1 (device 1): FAILED" in result.stdout
  assert "2 of 2 ranks failed" in result.stderr
  assert last_line(result.stdout) == "turing train fail"
  for device in (0, 1):
    log = (tmp_path / "train_{}.log".format(device)).read_text()
    assert "--use_horovod=True" in log.splitlines()[1]
    assert last_line(log) == "turing train fail"
    assert (tmp_path / str(device)).is_dir()  # the rank's working folder


def test_scripts_hard_code_no_interpreter():
  for name in ("run_1p.sh", "train_1p.sh", "run_8p.sh", "train_8p.sh", "run_eval.sh", "eval_1p.sh",
               "train_performance.sh", "lib/launcher.sh"):
    text = open(os.path.join(SCRIPTS, name)).read()
    assert "conda" not in text and "/root/" not in text and "venv-" not in text, name
    assert "sed -i" not in text, name

"""Tests for scripts/parse_train_log.py on hand-written logs (expected figures worked out by hand)."""
import os

import pytest

from open_seq2seq.training import train_log as ptl

CONFIG = """*** Training config:
***   {'batch_size_per_gpu': 32,
 'bench_start': 10,
 'eval_batch_size_per_gpu': 16,
 'iter_size': 2,
 'use_horovod': False}
"""
ONE_PROCESS = CONFIG + """*** Starting training from scratch
*** global_step:     10, loss: 512.250, mean_loss: 600.125,  FPS:     0.0, elapsed: 0:00:01, ETA: 0:00:09
*** global_step:     20, loss: 301.500, mean_loss: 450.000,  FPS:   128.0, elapsed: 0:00:06, ETA: 0:00:04
*** Sample WER: 0.9000
*** global_step:     30, loss: 1,234.5, mean_loss: 444.000,  FPS:    64.0, elapsed: 0:00:11, ETA: 0:00:00
*** Finished training
"""


def test_one_process_figures():
  summary, losses, mean = ptl.summarize(ONE_PROCESS, rank_size=1, e2e_seconds=42, device_type="x86_64")
  # Last line: 64 utterances/s; a step is 32 x 2 (iter_size) utterances -> 1000 ms.
  assert summary["ActualFPS"] == "64.00"
  assert summary["TrainingTime"] == "1000.00"
  assert summary["BatchSize"] == 32
  assert summary["ActualLoss"] == "1234.5"  # commas removed, as the reference does
  assert losses == ["512.250", "301.500", "1234.5"]
  # Two timed windows of equal size at 128 and 64 utterances/s: 2 / (1/128 + 1/64) = 85.33.
  assert mean == pytest.approx(256.0 / 3)
  assert list(summary.items()) == [
      ("Network", "Jasper_ID0020_for_TensorFlow"), ("RankSize", 1), ("BatchSize", 32), ("DeviceType", "x86_64"),
      ("CaseName", "Jasper_ID0020_for_TensorFlow_bs32_1p_perf"), ("ActualFPS", "64.00"), ("ActualLoss", "1234.5"),
      ("TrainingTime", "1000.00"), ("E2ETrainingTime", 42)]


def test_mean_loss_is_not_taken_for_loss():
  progress = ptl.parse_progress("*** global_step: 5, mean_loss: 9.0, loss: 7.5,  FPS: 10.0\n")
  assert progress == [ptl.ProgressLine(step=5, loss_text="7.5", loss=7.5, mean_loss=9.0, fps=10.0)]


# run_8p.sh's own lines around horovodrun's have no rank prefix.
HOROVODRUN = "== run_8p.sh: 2 ranks (cpu) on localhost:2\n== horovodrun -np 2 -H localhost:2 --gloo ...\n" + \
    "".join("[0]<stdout>:" + line + "\n" for line in CONFIG.splitlines()) + """\
[1]<stderr>:some warning
[0]<stdout>:*** global_step:      4, loss: 200.000, mean_loss: 210.000,  FPS:     0.0, elapsed: 0:00:01, ETA: 0:00:01
[1]<stdout>:*** global_step:      4, loss: 999.000, mean_loss: 999.000,  FPS:     1.0, elapsed: 0:00:01, ETA: 0:00:01
[0]<stdout>:*** global_step:      8, loss: 150.250, mean_loss: 180.000,  FPS:    80.0, elapsed: 0:00:03, ETA: 0:00:00
[1]<stdout>:*** global_step:      8, loss: 999.000, mean_loss: 999.000,  FPS:     1.0, elapsed: 0:00:03, ETA: 0:00:00
turing train success
"""


def test_horovodrun_log_uses_rank_0_and_scales_by_ranks():
  summary, losses, _ = ptl.summarize(HOROVODRUN, rank_size=2, e2e_seconds=7)
  # Rank 0 runs 80 utterances/s; two ranks: 160. A step: 32 x 2 per rank x 2 ranks = 128 utt -> 800 ms.
  assert summary["ActualFPS"] == "160.00"
  assert summary["TrainingTime"] == "800.00"
  assert summary["RankSize"] == 2
  assert summary["CaseName"] == "Jasper_ID0020_for_TensorFlow_bs32_2p_perf"
  assert losses == ["200.000", "150.250"]
  assert [line.fps for line in ptl.parse_progress(HOROVODRUN, rank=1)] == [1.0, 1.0]


def test_mpirun_prefix_and_plain_lines():
  assert ptl.split_rank_prefix("[1,3]<stdout>:*** x") == (3, "*** x")
  assert ptl.split_rank_prefix("[12]<stderr>:y") == (12, "y")
  assert ptl.split_rank_prefix("*** global_step: 1") == (None, "*** global_step: 1")


def test_batch_size_given_overrides_log():
  summary, _, _ = ptl.summarize(ONE_PROCESS, batch_size=16)
  assert summary["BatchSize"] == 16
  assert summary["TrainingTime"] == "250.00"  # 16 utterances at 64/s


def test_errors():
  with pytest.raises(ptl.LogError, match="no 'global_step:' progress line"):
    ptl.summarize(CONFIG)
  with pytest.raises(ptl.LogError, match="covers only the first, untimed step"):
    ptl.summarize(CONFIG + "*** global_step: 1, loss: 3.0, mean_loss: 3.0,  FPS: 0.0\n")
  with pytest.raises(ptl.LogError, match="batch_size_per_gpu"):
    ptl.summarize("*** global_step: 2, loss: 3.0, mean_loss: 3.0,  FPS: 5.0\n")


def test_main_writes_summary_and_loss_files(tmp_path, capsys):
  log = tmp_path / "train.log"
  log.write_text(HOROVODRUN)
  out = tmp_path / "out"
  assert ptl.main(["--log", str(log), "--rank_size", "2", "--e2e_seconds", "7", "--output_dir", str(out)]) == 0
  printed = capsys.readouterr().out
  assert "Final Performance images/sec : 160.00\n" in printed
  assert "E2E Training Duration sec : 7\n" in printed
  assert "ActualLoss : 150.250\n" in printed
  assert "TrainingTime (ms/step) : 800.00\n" in printed
  name = "Jasper_ID0020_for_TensorFlow_bs32_2p_perf"
  lines = (out / (name + ".log")).read_text().splitlines()
  assert [line.split(" = ")[0] for line in lines] == [
      "Network", "RankSize", "BatchSize", "DeviceType", "CaseName", "ActualFPS", "ActualLoss", "TrainingTime",
      "E2ETrainingTime"]
  assert "ActualFPS = 160.00" in lines and "E2ETrainingTime = 7" in lines
  assert (out / ("train_" + name + "_loss.txt")).read_text() == "200.000\n150.250\n"


def test_main_reports_unusable_log(tmp_path, capsys):
  log = tmp_path / "train.log"
  log.write_text(CONFIG)
  assert ptl.main(["--log", str(log)]) == 1
  assert "no 'global_step:' progress line" in capsys.readouterr().err
  assert ptl.main(["--log", os.path.join(str(tmp_path), "missing.log")]) == 1

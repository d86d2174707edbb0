"""The suite's table from fabricated measurements, its child-process runner's failure handling, and the
profile's sharing of overlapping op times."""
import sys

import pytest

from bench.profile_ops import wall_attributed
from bench.run_suite import MeasurementError, run_logged
from bench.suite_report import markdown_table, table_rows

SETTINGS = {"gemm_n": 1000, "num_frames": 100, "forward_batches": [1, 8], "forward_dtypes": ["float32", "bfloat16"],
            "train_batch": 8, "mixed_batch": 2,
            "mixed_frames": 10, "pipeline_batch": 8, "horovod_config_name": "mini", "horovod_batch": 16, "cores": 2}


def timed(seconds):
  return {"seconds": seconds, "kept": 2, "iterations": 3, "kept_utilisation": 0.97, "load_before": 0.05}


def flops(batch, frames):
  return 1e9 * batch * frames  # 1 GFLOP per frame of each utterance


def by_name(rows):
  return {(row["benchmark"], row["shape"]): row for row in rows}


def test_fractions_ratios_and_goals():
  results = {
      "gemm_float32": timed(2e9 / 400e9),  # 400 GFLOP/s
      "gemm_bfloat16": timed(2e9 / 1600e9),
      # float32 at 360 and 300 GFLOP/s; bfloat16 2.5x as fast at B=1 (goal 2x), 4x at B=8 (goal 4.5x)
      "forward": {"float32": {"1": timed(100 / 360), "8": timed(800 / 300)},
                  "bfloat16": {"1": timed(100 / 360 / 2.5), "8": timed(800 / 300 / 4)}},
      "train_float32": timed(3 * 800 / 300),  # 300 GFLOP/s
      "train_bfloat16": timed(3 * 800 / 300 / 2),  # twice as fast
      "train_float32_reduced": timed(1.0),
      "train_mixed": {"reduced": timed(50.0), "full": {"skipped": "not measured: budget exceeded"}},
      "pipeline": timed(0.2),
      "horovod": {"one": {"seconds": 1.0, "kept_utilisation": 0.7, "load_before": 0.0},
                  "two": {"seconds": 1.6, "kept_utilisation": 0.9, "load_before": 0.0}},
  }
  rows = by_name(table_rows(results, flops, SETTINGS))
  assert rows["GEMM float32 (peak)", "1000x1000x1000"]["GFLOP/s"] == "400"
  assert rows["GEMM bfloat16", "1000x1000x1000"]["derived"] == "4.00x fp32 peak"
  batch1 = rows["5x3 forward, frozen float32", "B=1, T=100"]
  assert (batch1["of fp32 peak"], batch1["goal"]) == ("90%", ">= 80%: met")
  assert batch1["derived"] == "RTF {:.4f}".format((100 / 360) / 1.0)
  assert rows["5x3 forward, frozen float32", "B=8, T=100"]["goal"] == ">= 80%: NOT met"
  bf16_batch1 = rows["5x3 forward, frozen bfloat16", "B=1, T=100"]
  # 900 GFLOP/s against the 1600 GFLOP/s bf16 GEMM
  assert bf16_batch1["derived"] == "RTF {:.4f}, 2.50x float32 speed, 56% of bf16 peak".format(100 / 360 / 2.5)
  assert bf16_batch1["goal"] == ">= 2.0x float32: met"
  bf16_batch8 = rows["5x3 forward, frozen bfloat16", "B=8, T=100"]
  assert bf16_batch8["derived"].split(", ")[1:] == ["4.00x float32 speed", "75% of bf16 peak"]
  assert bf16_batch8["goal"] == ">= 4.5x float32: NOT met"
  # each bfloat16 row follows the float32 row of its batch size
  assert [key[0].split()[-1] + " " + key[1][:3] for key in rows if "forward" in key[0]] == [
      "float32 B=1", "bfloat16 B=1", "float32 B=8", "bfloat16 B=8"]
  train = rows["5x3 train step float32", "B=8, T=100"]
  assert (train["of fp32 peak"], train["goal"], train["kept"]) == ("75%", ">= 70%: met", "2/3")
  bf16 = rows["5x3 train step bfloat16", "B=8, T=100"]
  assert bf16["derived"].startswith("2.00x float32 speed") and bf16["goal"] == ">= 1.5x float32: met"
  assert rows["5x3 train step mixed fp16", "B=2, T=10 (reduced)"]["derived"] == "0.020x float32 speed at this shape"
  assert rows["5x3 train step mixed fp16", "B=8, T=100"]["derived"] == "not measured: budget exceeded"
  pipeline = rows["feature pipeline (5x3 train data layer)", "B=8, 8-16 s utterances"]
  assert pipeline["derived"] == "40.0x the float32 step's batch rate, 20.0x the bfloat16 step's batch rate"
  assert pipeline["goal"] == ">= 10x (fastest step): met"
  assert rows["Horovod mini, 2 processes", "B=16 per process"]["derived"].startswith("throughput 1.25x")
  assert markdown_table(list(rows.values())).count("\n") == len(rows) + 1


def test_failed_measurements_keep_their_rows():
  results = {"gemm_float32": {"error": "FAILED: exit 1"}, "forward": {"error": "FAILED: timed out after 9 s"},
             "train_float32": {"error": "FAILED: exit 2"}, "pipeline": {"error": "not available: no mini corpus"}}
  rows = by_name(table_rows(results, flops, SETTINGS))
  assert rows["GEMM float32 (peak)", "1000x1000x1000"]["derived"] == "FAILED: exit 1"
  assert rows["5x3 forward, frozen float32", "B=8, T=100"]["derived"] == "FAILED: timed out after 9 s"
  assert rows["5x3 forward, frozen float32", "B=8, T=100"]["goal"] == ">= 80%: not measured"
  assert rows["5x3 forward, frozen bfloat16", "B=1, T=100"]["derived"] == "FAILED: timed out after 9 s"
  assert rows["5x3 forward, frozen bfloat16", "B=1, T=100"]["goal"] == ">= 2.0x float32: not measured"
  assert rows["5x3 train step float32", "B=8, T=100"]["seconds"] == "-"
  assert rows["feature pipeline (5x3 train data layer)", "B=8, 8-16 s utterances"]["derived"].startswith(
      "not available")


def test_run_logged_reports_time_outs_and_failures(tmp_path):
  log = str(tmp_path / "child.log")
  with pytest.raises(MeasurementError, match="timed out after 1 s"):
    run_logged([sys.executable, "-c", "import time; time.sleep(30)"], log, timeout_s=1)
  with pytest.raises(MeasurementError, match="exit 3: boom"):
    run_logged([sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"], log, timeout_s=30)
  output, _ = run_logged([sys.executable, "-c", "print('  progress')"], log, timeout_s=30)
  assert output == "  progress\n"
  assert "boom" in open(log).read()


def test_wall_attributed_shares_overlaps():
  # a runs 0-10, b runs 5-15 beside it, c has no duration: 0-5 a alone, 5-10 shared, 10-15 b alone.
  shares = wall_attributed([("a", 0, 10), ("b", 5, 15), ("c", 7, 7)])
  assert shares["a"] == pytest.approx(7.5) and shares["b"] == pytest.approx(7.5)
  assert shares.get("c", 0.0) == 0.0
  assert sum(shares.values()) == pytest.approx(15)

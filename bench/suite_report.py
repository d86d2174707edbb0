"""The table of bench/run_suite.py: one row per measurement, from the raw results of its child processes,
the analytic FLOP counts (flop_count.py) and the float32 GEMM peak measured in the same run."""
import math

from bench.flop_count import TRAIN_STEP_FORWARDS

FRAME_SECONDS = 0.01
COLUMNS = ["benchmark", "shape", "seconds", "GFLOP/s", "of fp32 peak", "derived", "kept", "util / load", "goal"]


def _number(value, pattern):
  return pattern.format(value) if value is not None and not math.isnan(value) else "-"


def row(benchmark, shape, result=None, gflops=None, peak=None, derived="", goal="", seconds_unit=""):
  """A table row; ``result`` is a timing summary (suite_measurements.timing) or ``{"error": text}``."""
  cells = {"benchmark": benchmark, "shape": shape, "seconds": "-", "GFLOP/s": "-", "of fp32 peak": "-",
           "derived": derived, "kept": "-", "util / load": "-", "goal": goal}
  if result is None:
    return cells
  if "error" in result:
    cells["derived"] = result["error"]
    return cells
  cells["seconds"] = _number(result["seconds"], "{:.3f}") + seconds_unit
  cells["GFLOP/s"] = _number(gflops, "{:.0f}")
  cells["of fp32 peak"] = _number(gflops / peak if gflops and peak else None, "{:.0%}")
  if "kept" in result:
    cells["kept"] = "{}/{}".format(result["kept"], result["iterations"])
  if "kept_utilisation" in result:
    cells["util / load"] = "{} / {}".format(_number(result["kept_utilisation"], "{:.2f}"),
                                            _number(result.get("load_before"), "{:.0%}"))
  return cells


def goal_text(value, threshold, unit):
  if value is None or math.isnan(value):
    return ">= {}{}: not measured".format(threshold, unit)
  met = value >= (threshold / 100.0 if unit == "%" else threshold)
  return ">= {}{}: {}".format(threshold, unit, "met" if met else "NOT met")


def gflops_of(result, flops):
  if not result or "error" in result or not result.get("seconds") or math.isnan(result["seconds"]):
    return None
  return flops / result["seconds"] / 1e9


def table_rows(results, flops, settings):
  """Rows of every measurement present in ``results``; ``flops(batch, frames)`` is the 5x3 forward count."""
  rows = []
  peak = gflops_of(results.get("gemm_float32"), 2 * settings["gemm_n"] ** 3)
  peak_bf16 = gflops_of(results.get("gemm_bfloat16"), 2 * settings["gemm_n"] ** 3)
  gemm_shape = "{0}x{0}x{0}".format(settings["gemm_n"])
  if "gemm_float32" in results:
    rows.append(row("GEMM float32 (peak)", gemm_shape, results["gemm_float32"], peak, peak))
  if "gemm_bfloat16" in results:
    rows.append(row("GEMM bfloat16", gemm_shape, results["gemm_bfloat16"], peak_bf16, peak,
                    derived=_number(peak_bf16 / peak if peak and peak_bf16 else None, "{:.2f}x fp32 peak")))
  frames = settings["num_frames"]
  if "forward" in results:
    rows.extend(_forward_rows(results["forward"], flops, settings, peak, peak_bf16))
  train_batch = settings["train_batch"]
  train_flops = TRAIN_STEP_FORWARDS * flops(train_batch, frames)
  float32_step = results.get("train_float32", {}).get("seconds")
  for dtype in ("float32", "bfloat16"):
    key = "train_" + dtype
    if key not in results:
      continue
    result = results[key]
    gflops = gflops_of(result, train_flops)
    speed = float32_step / result["seconds"] if float32_step and result.get("seconds") else None
    derived = _number(speed, "{:.2f}x float32 speed")
    if dtype == "bfloat16" and gflops and peak_bf16:
      derived += ", {:.0%} of bf16 peak".format(gflops / peak_bf16)
    goal = goal_text(gflops / peak if gflops and peak else None, 70, "%") if dtype == "float32" else \
        goal_text(speed, 1.5, "x float32")
    rows.append(row("5x3 train step " + dtype, "B={}, T={}".format(train_batch, frames), result, gflops, peak,
                    derived=derived, goal=goal))
  if "train_mixed" in results:
    rows.extend(_mixed_rows(results, flops, settings, peak))
  if "pipeline" in results:
    rows.append(_pipeline_row(results, settings))
  if "horovod" in results:
    rows.extend(_horovod_rows(results["horovod"], settings))
  return rows


# The speed goals of the bfloat16 frozen forward pass over float32's in the same run, per batch size (issue 17).
BF16_FORWARD_GOALS = {1: 2.0, 8: 4.5}


def _forward_rows(forward, flops, settings, peak, peak_bf16):
  """Rows of the frozen forward pass per batch size, each dtype beside float32; ``forward`` is
  ``{dtype: {str(batch): timing summary}}`` or ``{"error": text}``."""
  frames = settings["num_frames"]
  rows = []
  for batch in settings["forward_batches"]:
    float32_seconds = None
    for dtype in settings.get("forward_dtypes", ["float32"]):
      result = forward if "error" in forward else forward.get(dtype, {}).get(str(batch), {"error": "not measured"})
      gflops = gflops_of(result, flops(batch, frames))
      seconds = result.get("seconds")
      derived = _number(seconds / (batch * frames * FRAME_SECONDS) if seconds else None, "RTF {:.4f}")
      if dtype == "float32":
        float32_seconds = seconds
        goal = goal_text(gflops / peak if gflops and peak else None, 80, "%")
      else:
        speed = float32_seconds / seconds if float32_seconds and seconds else None
        derived += ", " + _number(speed, "{:.2f}x float32 speed")
        if dtype == "bfloat16" and gflops and peak_bf16:
          derived += ", {:.0%} of bf16 peak".format(gflops / peak_bf16)
        goal = goal_text(speed, BF16_FORWARD_GOALS[batch], "x float32") \
            if dtype == "bfloat16" and batch in BF16_FORWARD_GOALS else ""
      rows.append(row("5x3 forward, frozen " + dtype, "B={}, T={}".format(batch, frames), result, gflops, peak,
                      derived=derived, goal=goal))
  return rows


def _mixed_rows(results, flops, settings, peak):
  mixed = results["train_mixed"]
  batch, frames = settings["mixed_batch"], settings["mixed_frames"]
  reference = results.get("train_float32_reduced", {})
  rows = []
  small = mixed.get("reduced", mixed)
  gflops = gflops_of(small, TRAIN_STEP_FORWARDS * flops(batch, frames))
  speed = reference["seconds"] / small["seconds"] if reference.get("seconds") and small.get("seconds") else None
  rows.append(row("5x3 train step mixed fp16", "B={}, T={} (reduced)".format(batch, frames), small, gflops, peak,
                  derived=_number(speed, "{:.3f}x float32 speed at this shape")))
  full = mixed.get("full")
  shape = "B={}, T={}".format(settings["train_batch"], settings["num_frames"])
  if full is None or "skipped" in full:
    rows.append(row("5x3 train step mixed fp16", shape,
                    derived=(full or {}).get("skipped", "not measured")))
  else:
    full_gflops = gflops_of(full, TRAIN_STEP_FORWARDS * flops(settings["train_batch"], settings["num_frames"]))
    rows.append(row("5x3 train step mixed fp16", shape, full, full_gflops, peak))
  return rows


def _pipeline_row(results, settings):
  result = results["pipeline"]
  shape = "B={}, 8-16 s utterances".format(settings["pipeline_batch"])
  if "error" in result:
    return row("feature pipeline (5x3 train data layer)", shape, result)
  ratios = []
  for dtype in ("float32", "bfloat16"):
    step = results.get("train_" + dtype, {}).get("seconds")
    if step and result.get("seconds"):
      ratios.append((dtype, step / result["seconds"]))
  derived = ", ".join("{:.1f}x the {} step's batch rate".format(ratio, dtype) for dtype, ratio in ratios)
  fastest = min(ratio for _, ratio in ratios) if ratios else None
  return row("feature pipeline (5x3 train data layer)", shape, result, derived=derived or "no training step measured",
             goal=goal_text(fastest, 10, "x (fastest step)"), seconds_unit=" /batch")


def _horovod_rows(result, settings):
  name = "Horovod {}".format(settings["horovod_config_name"])
  shape = "B={} per process".format(settings["horovod_batch"])
  if "error" in result or "skipped" in result:
    return [row(name + ", 1 vs 2 processes", shape, derived=result.get("error") or result.get("skipped"))]
  one, two = result["one"], result["two"]
  ratio = 2 * one["seconds"] / two["seconds"]
  return [row(name + ", 1 process", shape, one, seconds_unit=" /step"),
          row(name + ", 2 processes", shape, two, seconds_unit=" /step",
              derived="throughput {:.2f}x 1 process (2 processes share the {} cores)".format(
                  ratio, settings["cores"]))]


def markdown_table(rows):
  lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
  for cells in rows:
    lines.append("| " + " | ".join(str(cells[column]).replace("|", "/") for column in COLUMNS) + " |")
  return "\n".join(lines)

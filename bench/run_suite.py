#!/usr/bin/env python
"""The benchmark suite in one command: runs the benchmarks of bench/ and writes a Markdown table and JSON with
the date, CPU, thread settings and TensorFlow version (default folder results/bench/; the table is printed).

    python bench/run_suite.py [--quick] [--accuracy [--accuracy_budgets 5,15,30]] [--only gemm,forward,...]
                              [--output_dir results/bench]

Measurements (names for --only): gemm (float32 and bfloat16 GEMM peak), forward (5x3 frozen graph exported in
float32 and bfloat16, timed in turns, batch 1 and 8), train (5x3 training step in float32, bfloat16 and mixed
float16), pipeline (5x3 training data layer against the training step), horovod (1 vs 2 processes), accuracy
(dev WER after training budgets, only with --accuracy or --only accuracy). Each runs in a child process
(bench/suite_measurements.py) with a time limit: a failure or time-out is reported in its row and the suite goes
on. --quick takes about 10 minutes on 2 cores.

Mixed float16 has no native CPU kernels and runs a step ~100x slower than float32, so it is timed at a
reduced shape next to float32 at that shape; the full shape runs only if the step projected from the reduced
one (in proportion to FLOPs) fits --fp16_budget_s.
"""
import argparse
import datetime
import json
import os
import re
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time

# Read by TensorFlow (imported through bench.flop_count) and inherited by the measurement processes.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# TensorFlow reads the variable once, when it is first imported
from bench.cpu_budget import wait_for_idle_cpu
from bench.flop_count import config_forward_flops
from bench.suite_report import markdown_table, table_rows

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
FIVE_BY_THREE = "configs/speech2text/jasper5x3_LibriSpeech_nvgrad_masks_1p.py"
MINI = "configs/speech2text/jasper_mini_nvgrad_masks.py"
MEASURE = os.path.join(REPO, "bench", "suite_measurements.py")
ALL = ["gemm", "forward", "train", "pipeline", "horovod"]
THREAD_ENV = ["OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "TF_ENABLE_ONEDNN_OPTS",
              "KMP_AFFINITY", "KMP_BLOCKTIME", "MKL_NUM_THREADS", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"]
CPU_FLAGS = ["avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_tile"]
# Per measurement: (quick, full) settings.
SETTINGS = {
    "gemm_iterations": (5, 10), "forward_iterations": (3, 5), "train_steps": (2, 3), "bf16_steps": (3, 5),
    "mixed_shape": ((2, 160), (2, 160)), "mixed_steps": (1, 2), "fp16_budget_s": (0, 1800),
    "pipeline_batches": (30, 60), "horovod_steps": (60, 200), "idle_timeout_s": (20, 120),
}


class MeasurementError(RuntimeError):
  pass


def run_logged(command, log_path, timeout_s, show=lambda line: line.startswith("  "), env=None):
  """Runs ``command`` in its own process group, its output to ``log_path`` and the lines ``show`` picks to the
  console; returns (output, child CPU seconds); raises MeasurementError on a time-out or a non-zero exit."""
  cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
  with open(log_path, "a") as log:
    log.write("$ " + " ".join(command) + "\n")
    log.flush()
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=dict(os.environ, PYTHONUNBUFFERED="1", **(env or {})), start_new_session=True)
    lines = []

    def read():
      for line in process.stdout:
        lines.append(line)
        log.write(line)
        if show(line):
          print("    " + line.rstrip(), flush=True)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
      process.wait(timeout_s)
    except subprocess.TimeoutExpired:
      os.killpg(process.pid, 9)  # the group of the child started here: horovodrun's ranks too
      process.wait()
      reader.join()
      raise MeasurementError("FAILED: timed out after {:.0f} s (log {})".format(timeout_s, log_path)) from None
    reader.join()
  cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
  if process.returncode != 0:
    last = [line.strip() for line in lines if line.strip()][-1:] or ["no output"]
    raise MeasurementError("FAILED: exit {}: {} (log {})".format(process.returncode, last[0][:160], log_path))
  return "".join(lines), (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)


def measure(name, params, log_path, timeout_s):
  """One measurement of suite_measurements.py in a child process; its result dict."""
  with tempfile.TemporaryDirectory() as tmp_dir:
    result_path = os.path.join(tmp_dir, "result.json")
    run_logged([sys.executable, MEASURE, name, json.dumps(params), result_path], log_path, timeout_s)
    with open(result_path) as handle:
      return json.load(handle)


def machine_info():
  info = {"cpu_model": "unknown", "cpu_flags": [], "cores": os.cpu_count(),
          "usable_cores": len(os.sched_getaffinity(0))}
  try:
    with open("/proc/cpuinfo") as handle:
      text = handle.read()
    info["cpu_model"] = re.search(r"^model name\s*:\s*(.*)$", text, re.M).group(1).strip()
    family, model = (re.search(r"^{}\s*:\s*(\d+)$".format(key), text, re.M) for key in ("cpu family", "model"))
    info["cpu_family_model"] = "{}/{}".format(family.group(1), model.group(1)) if family and model else ""
    flags = set(re.search(r"^flags\s*:\s*(.*)$", text, re.M).group(1).split())
    info["cpu_flags"] = [flag for flag in CPU_FLAGS if flag in flags]
  except (OSError, AttributeError):
    pass
  return info


def software_info():
  import tensorflow as tf
  from tensorflow.python.util import _pywrap_util_port
  git = {}
  for key, command in (("commit", ["git", "rev-parse", "--short", "HEAD"]),
                       ("status", ["git", "status", "--porcelain"])):
    try:
      git[key] = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
      git[key] = None
  return {"tensorflow": tf.__version__, "onednn": bool(_pywrap_util_port.IsMklEnabled()),
          "python": sys.version.split()[0],
          "git_commit": git["commit"], "git_local_changes": bool(git["status"]),
          "threads": {"session_intra_op": 0, "session_inter_op": 0,
                      "env": {name: os.environ.get(name) for name in THREAD_ENV}}}


def header(info, software, mode):
  env = software["threads"]["env"]
  set_env = ", ".join("{}={}".format(k, v) for k, v in env.items() if v is not None) or "none set"
  return "\n".join([
      "Jasper benchmark suite ({}), {}".format(mode, info["date"]),
      "",
      "- Machine: {} (family/model {}), {} cores ({} usable), {}".format(
          info["cpu_model"], info.get("cpu_family_model", "?"), info["cores"], info["usable_cores"],
          ", ".join(info["cpu_flags"]) or "no AVX-512"),
      "- TensorFlow {} (oneDNN {}), Python {}; commit {}{}".format(
          software["tensorflow"], "on" if software["onednn"] else "off", software["python"],
          software["git_commit"], " with local changes" if software["git_local_changes"] else ""),
      "- Threads: sessions use TensorFlow's defaults (intra-op 0 and inter-op 0: one thread per core); "
      "thread environment variables ({}): {}".format(", ".join(THREAD_ENV[:4]) + ", ...", set_env),
      "- kept = timed iterations whose utilisation (process CPU time / (wall x cores)) is within 90% of the "
      "best one's; util = median utilisation of the kept ones; load = other CPU load just before timing. "
      "GFLOP/s from the analytic conv + FC FLOP count (bench/flop_count.py), a training step = 3 forwards.",
  ])


class Suite:
  """Runs the selected measurements in order, each reported under its key in ``results``."""

  def __init__(self, args):
    self.args = args
    pick = 0 if args.quick else 1
    self.s = {key: value[pick] for key, value in SETTINGS.items()}
    if args.fp16_budget_s is not None:
      self.s["fp16_budget_s"] = args.fp16_budget_s
    self.results = {}
    self.run_dir = args.run_dir
    self.corpus = os.environ.get("JASPER_MINI_CORPUS", os.path.join(REPO, "data", "mini_librispeech"))
    self.settings = {"gemm_n": 4096, "num_frames": 1600, "forward_batches": [1, 8],
                     "forward_dtypes": ["float32", "bfloat16"], "train_batch": 8,
                     "mixed_batch": self.s["mixed_shape"][0], "mixed_frames": self.s["mixed_shape"][1],
                     "pipeline_batch": 8, "horovod_config_name": "mini", "horovod_batch": 16,
                     "cores": os.cpu_count()}

  def log_path(self, key):
    return os.path.join(self.run_dir, key + ".log")

  def child(self, key, name, timeout_s, **params):
    params.setdefault("idle_timeout_s", self.s["idle_timeout_s"])
    return measure(name, params, self.log_path(key), timeout_s)

  def plan(self):
    """[(key, title, function)] of the selected measurements."""
    s, steps = self.s, []
    only = self.args.only.split(",") if self.args.only else ALL + (["accuracy"] if self.args.accuracy else [])
    if "gemm" in only:
      for dtype in ("float32", "bfloat16"):
        steps.append(("gemm_" + dtype, "GEMM {} 4096^3".format(dtype), lambda dtype=dtype: self.child(
            "gemm_" + dtype, "gemm", 300, dtype=dtype, n=self.settings["gemm_n"], iterations=s["gemm_iterations"])))
    if "forward" in only:
      steps.append(("forward", "5x3 frozen forward float32 and bfloat16, batch 1 and 8, T=1600", lambda: self.child(
          "forward", "forward", 1200, config_file=FIVE_BY_THREE, batch_sizes=self.settings["forward_batches"],
          num_frames=1600, iterations=s["forward_iterations"], dtypes=self.settings["forward_dtypes"])))
    if "train" in only:
      for dtype, steps_key in (("float32", "train_steps"), ("bfloat16", "bf16_steps")):
        steps.append(("train_" + dtype, "5x3 training step {}, B=8, T=1600".format(dtype),
                      lambda dtype=dtype, steps_key=steps_key: self.child(
                          "train_" + dtype, "train_step", 1200, config_file=FIVE_BY_THREE, dtype=dtype,
                          batch_size=8, num_frames=1600, steps=s[steps_key])))
      batch, frames = s["mixed_shape"]
      steps.append(("train_float32_reduced", "5x3 training step float32 at the fp16 shape B={}, T={}".format(
          batch, frames), lambda: self.child("train_float32_reduced", "train_step", 600, config_file=FIVE_BY_THREE,
                                             dtype="float32", batch_size=batch, num_frames=frames, steps=3)))
      steps.append(("train_mixed", "5x3 training step mixed fp16, B={}, T={}".format(batch, frames), self.mixed))
    if "pipeline" in only:
      steps.append(("pipeline", "5x3 training data layer, batch 8", self.pipeline))
    if "horovod" in only:
      steps.append(("horovod", "Horovod, mini config, 1 vs 2 processes", self.horovod))
    if "accuracy" in only:
      steps.append(("accuracy", "mini-corpus dev WER after {} min of training".format(self.args.accuracy_budgets),
                    self.accuracy))
    return steps

  def mixed(self):
    batch, frames = self.s["mixed_shape"]
    reduced = self.child("train_mixed", "train_step", 900, config_file=FIVE_BY_THREE, dtype="mixed",
                         batch_size=batch, num_frames=frames, steps=self.s["mixed_steps"])
    result = {"reduced": reduced}
    flops = self.forward_flops
    projected = reduced["seconds"] * flops(8, 1600) / flops(batch, frames)
    runs = 1 + self.s["train_steps"]
    if projected * runs > self.s["fp16_budget_s"]:
      result["full"] = {"skipped": "not measured: budget exceeded (projected {:.0f} s per step from B={}, T={}; "
                                   "budget {} s for {} steps)".format(projected, batch, frames,
                                                                      self.s["fp16_budget_s"], runs),
                        "projected_seconds": projected}
    else:
      try:
        result["full"] = self.child("train_mixed", "train_step", self.s["fp16_budget_s"] + 300,
                                    config_file=FIVE_BY_THREE, dtype="mixed", batch_size=8, num_frames=1600,
                                    steps=self.s["train_steps"])
      except MeasurementError as error:
        result["full"] = {"skipped": str(error)}
    return result

  def pipeline(self):
    corpus_csv = os.path.join(self.corpus, "librivox-train-clean-100.csv")
    if not os.path.isfile(corpus_csv):
      raise MeasurementError("not available: no mini corpus at {} (scripts/run_mini_demo.sh builds it)".format(
          self.corpus))
    return self.child("pipeline", "pipeline", 900, config_file=FIVE_BY_THREE, corpus_csv=corpus_csv,
                      batch_size=self.settings["pipeline_batch"], batches=self.s["pipeline_batches"])

  def horovod(self):
    horovodrun = os.path.join(sys.prefix, "bin", "horovodrun")
    if not os.path.exists(horovodrun):
      return {"skipped": "not available: no horovodrun in {} (requirements-horovod.txt)".format(sys.prefix)}
    if not os.path.isfile(os.path.join(self.corpus, "librivox-train-clean-100.csv")):
      return {"skipped": "not available: no mini corpus at {}".format(self.corpus)}
    steps = self.s["horovod_steps"]
    command = [sys.executable, "run.py", "--config_file=" + MINI, "--mode=train", "--benchmark",
               "--bench_steps={}".format(steps), "--bench_start=10"]
    result = {}
    for key, processes, full_command in (
        ("one", 1, command),
        ("two", 2, [horovodrun, "-np", "2", "-H", "localhost:2", "--gloo"] + command + ["--use_horovod=True"])):
      load = wait_for_idle_cpu(timeout_s=self.s["idle_timeout_s"])
      print("    {} process(es), {} steps".format(processes, steps), flush=True)
      start = time.time()
      output, cpu = run_logged(full_command, self.log_path("horovod"), 900, show=lambda line: "Avg time" in line)
      wall = time.time() - start
      seconds = re.findall(r"Avg time per step: ([\d.]+)s", output)
      if not seconds:
        raise MeasurementError("FAILED: no 'Avg time per step' in the output (log {})".format(
            self.log_path("horovod")))
      result[key] = {"seconds": float(seconds[0]), "load_before": load, "wall_s": wall,
                     "kept_utilisation": cpu / (wall * os.cpu_count())}
    return result

  def accuracy(self):
    from bench.accuracy_budget import run_budgets
    if not os.path.isfile(os.path.join(self.corpus, "librivox-dev-clean.csv")):
      raise MeasurementError("not available: no mini corpus at {}".format(self.corpus))
    overrides = ((["--dtype=" + self.args.accuracy_dtype] if self.args.accuracy_dtype else [])
                 + shlex.split(self.args.accuracy_run_args))
    return run_budgets([float(b) for b in self.args.accuracy_budgets.split(",")],
                       os.path.join(self.run_dir, "accuracy"), MINI, overrides,
                       log=lambda line: print("  " + line, flush=True))

  def forward_flops(self, batch, frames):
    if not hasattr(self, "_config"):
      from open_seq2seq.utils.config import load_config_module
      self._config = load_config_module(os.path.join(REPO, FIVE_BY_THREE))
    return config_forward_flops(self._config, batch, frames)["total"]

  def run(self):
    steps = self.plan()
    for index, (key, title, function) in enumerate(steps, start=1):
      print("[{}/{}] {} ...".format(index, len(steps), title), flush=True)
      start = time.time()
      try:
        self.results[key] = function()
      except MeasurementError as error:
        self.results[key] = {"error": str(error)}
      except Exception as error:
        self.results[key] = {"error": "FAILED: {}: {}".format(type(error).__name__, error)}
      print("[{}/{}] {}: {} in {:.0f} s".format(index, len(steps), title,
                                                 "FAILED" if "error" in self.results[key] else "done",
                                                 time.time() - start), flush=True)
    return self.results


def accuracy_markdown(result):
  from bench.accuracy_budget import markdown
  if "error" in result:
    return "Mini-corpus accuracy: " + result["error"]
  return "Mini-corpus accuracy ({}{}): dev WER after training budgets; plot {}\n\n{}".format(
      os.path.basename(result["config_file"]), " " + " ".join(result["overrides"]) if result["overrides"] else "",
      os.path.relpath(result["plot"], REPO), markdown(result))


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--quick", action="store_true", help="fewer iterations, fp16 at a smaller shape (~10 min)")
  parser.add_argument("--only", help="comma-separated subset of {}".format(",".join(ALL + ["accuracy"])))
  parser.add_argument("--accuracy", action="store_true", help="also the mini-corpus accuracy run (long)")
  parser.add_argument("--accuracy_budgets", default="5,15,30", help="minutes of training, comma-separated")
  parser.add_argument("--accuracy_dtype", help="run.py --dtype of the accuracy run (default: the config's)")
  parser.add_argument("--accuracy_run_args", default="",
                      help="more run.py overrides of the accuracy run, e.g. --accuracy_run_args=--max_steps=10000")
  parser.add_argument("--fp16_budget_s", type=float, help="time allowed for the full-shape mixed fp16 step")
  parser.add_argument("--output_dir", default=os.path.join(REPO, "results", "bench"))
  args = parser.parse_args(argv)
  unknown = set(args.only.split(",")) - set(ALL + ["accuracy"]) if args.only else set()
  if unknown:
    parser.error("--only: unknown {}".format(sorted(unknown)))
  stamp = datetime.datetime.now(datetime.timezone.utc)
  args.run_dir = os.path.join(args.output_dir, "suite_" + stamp.strftime("%Y%m%d_%H%M%S"))
  os.makedirs(args.run_dir, exist_ok=True)
  mode = "quick" if args.quick else "full"
  info = dict(machine_info(), date=stamp.strftime("%Y-%m-%d %H:%M UTC"))
  software = software_info()
  print(header(info, software, mode) + "\n\nLogs: {}".format(args.run_dir), flush=True)
  suite = Suite(args)
  started = time.time()
  results = suite.run()
  rows = table_rows(results, suite.forward_flops, suite.settings)
  text = header(info, software, mode) + "\n\n" + markdown_table(rows)
  if "accuracy" in results:
    text += "\n\n" + accuracy_markdown(results["accuracy"])
  text += "\n\nSuite wall time: {:.1f} min.\n".format((time.time() - started) / 60)
  report = {"mode": mode, "machine": info, "software": software, "settings": suite.settings,
            "iterations": suite.s, "results": results, "rows": rows, "wall_s": time.time() - started}
  for name, content in (("suite.md", text), ("suite.json", json.dumps(report, indent=1, default=str))):
    with open(os.path.join(args.run_dir, name), "w") as handle:
      handle.write(content)
    shutil.copyfile(os.path.join(args.run_dir, name), os.path.join(args.output_dir, "latest_" + name))
  print("\n" + text)
  print("Written: {}/suite.md and suite.json (copies: {}/latest_suite.*)".format(args.run_dir, args.output_dir))
  return 0


if __name__ == "__main__":
  sys.exit(main())

#!/usr/bin/env python
"""Mini-corpus accuracy against training wall time: dev WER after fixed training budgets, as a Markdown table,
JSON and a PNG of loss and WER against training time.

One training run of the config (run.py --mode=train, its own schedule and max_steps) is stopped with SIGTERM
when its training time reaches each budget (run.py then writes a final checkpoint and exits), the checkpoint
is evaluated on the dev set (run.py --mode=eval, while nothing trains), and training resumes with
--continue_learning up to the next budget. Training time is wall time from the first training step of each
segment, read off run.py's progress lines, so graph construction, the warm-up step and evaluation are not
counted; ``total_wall_s`` in the JSON counts everything. Set JASPER_MINI_CORPUS for another corpus folder.

    python bench/accuracy_budget.py [--budgets 5,15,30] [--dtype float32] [--run_args=--max_steps=11000]
                                    [--output_dir results/bench/accuracy] [--lm lm-3gram.arpa]

With ``--lm`` every budget's checkpoint is also decoded with CTC beam search and that word LM
(scripts/decode.py, fixed --lm_alpha/--lm_beta/--unknown_word_offset) on dev and on test.
"""
import argparse
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time

from open_seq2seq.utils.config import load_config_module, mode_config, write_eval_set_infer_config

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
MINI_CONFIG = "configs/speech2text/jasper_mini_nvgrad_masks.py"
PROGRESS = re.compile(r"global_step:\s*(\d+), loss:\s*([^,]+), mean_loss:.*elapsed: (\d+):(\d\d):(\d\d)")
STOP_GRACE_S = 300


class TrainingSegment:
  """run.py training in a child process whose output goes to ``log_path``; ``progress`` collects
  (arrival time, global step, loss) of its progress lines and ``start`` is the wall time of its first step."""

  def __init__(self, command, log_path):
    self.progress, self.start = [], None
    self._log = open(log_path, "a")
    self._log.write("$ " + " ".join(command) + "\n")
    self._log.flush()
    self.process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                    env=dict(os.environ, PYTHONUNBUFFERED="1"))
    self._reader = threading.Thread(target=self._read, daemon=True)
    self._reader.start()

  def _read(self):
    for line in self.process.stdout:
      now = time.time()
      self._log.write(line)
      match = PROGRESS.search(line)
      if match:
        hours, minutes, seconds = (int(v) for v in match.groups()[2:])
        if self.start is None:
          # elapsed counts from the end of the first (warm-up) step of this process.
          self.start = now - (3600 * hours + 60 * minutes + seconds)
        self.progress.append((now, int(match.group(1)), float(match.group(2))))

  def stop(self):
    """SIGTERM (a final checkpoint, then exit), SIGKILL if that takes longer than STOP_GRACE_S."""
    if self.process.poll() is None:
      self.process.send_signal(signal.SIGTERM)
    try:
      self.process.wait(STOP_GRACE_S)
    except subprocess.TimeoutExpired:
      self.process.kill()
      self.process.wait()
    self._reader.join()
    self._log.close()
    return self.process.returncode


def run_py(args, log_path):
  """Runs run.py with ``args`` to completion; returns its output (also appended to ``log_path``)."""
  result = subprocess.run([sys.executable, "run.py"] + args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, check=False)
  with open(log_path, "a") as handle:
    handle.write("$ run.py " + " ".join(args) + "\n" + result.stdout)
  if result.returncode != 0:
    raise RuntimeError("run.py {} exited with {}: {}".format(" ".join(args), result.returncode,
                                                             result.stdout.strip().splitlines()[-1:]))
  return result.stdout


def evaluate_dev(common_args, log_path):
  output = run_py(["--mode=eval"] + common_args, log_path)
  wer = re.findall(r"Validation WER:\s*([\d.]+)", output)
  loss = re.findall(r"Validation loss:\s*([\d.]+)", output)
  checkpoint = re.findall(r"Loading model from (\S+)", output)
  if not wer:
    raise RuntimeError("run.py --mode=eval printed no 'Validation WER' (log: {})".format(log_path))
  step = re.search(r"ckpt-(\d+)$", checkpoint[-1]) if checkpoint else None
  return float(wer[-1]), float(loss[-1]) if loss else float("nan"), int(step.group(1)) if step else None


class LanguageModelDecoding:
  """WER of LM beam search (scripts/decode.py) over the logits of a checkpoint on dev and test."""

  def __init__(self, lm_path, config_file, output_dir, alpha, beta, unknown_word_offset):
    config = load_config_module(config_file)
    self.manifests = {split: mode_config(config, mode)["data_layer_params"]["dataset_files"]
                      for split, mode in (("dev", "eval"), ("test", "infer"))}
    self.vocab_file = config["base_params"]["data_layer_params"]["vocab_file"]
    dev_config = write_eval_set_infer_config(config_file, os.path.join(output_dir, "dev_infer_config.py"))
    self.configs = {"dev": dev_config, "test": config_file}
    self.lm_path, self.output_dir = lm_path, output_dir
    self.settings = ["--alpha={}".format(alpha), "--beta={}".format(beta),
                     "--unknown_word_offset={}".format(unknown_word_offset)]

  def wer(self, split, logdir, overrides, log_path):
    logits = os.path.join(self.output_dir, "{}_logits.npz".format(split))
    run_py(["--mode=infer", "--config_file=" + self.configs[split], "--logdir=" + logdir,
            "--infer_output_file=" + logits, "--decoder_params/infer_logits_to_pickle=True"] + list(overrides),
           log_path)
    command = [sys.executable, "scripts/decode.py", "--logits", logits, "--lm", self.lm_path, "--vocab",
               self.vocab_file, "--labels"] + self.manifests[split] + self.settings
    result = subprocess.run(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            check=False)
    with open(log_path, "a") as handle:
      handle.write("$ " + " ".join(command) + "\n" + result.stdout)
    greedy = re.search(r"greedy WER: ([\d.]+)", result.stdout)
    decoded = re.search(r"^best: alpha \S+, beta \S+, WER ([\d.]+)", result.stdout, re.MULTILINE)
    if result.returncode != 0 or not decoded:
      raise RuntimeError("decode.py exited with {} (log: {})".format(result.returncode, log_path))
    return float(greedy.group(1)), float(decoded.group(1))


def run_budgets(budgets_min, output_dir, config_file=MINI_CONFIG, overrides=(), log=print, poll_s=0.5,
                progress_every=10, lm_decoding=None):
  """Trains to each budget (minutes of training time, ascending) and evaluates; returns the result dict.
  ``overrides``: run.py options for training and evaluation; ``progress_every``: steps between loss points;
  ``lm_decoding``: a LanguageModelDecoding to add dev and test WER with the LM at every budget."""
  logdir = os.path.join(output_dir, "logdir")
  log_path = os.path.join(output_dir, "accuracy.log")
  os.makedirs(output_dir, exist_ok=True)
  if os.path.isdir(logdir) and os.listdir(logdir):
    raise IOError("{} is not empty: choose another --output_dir".format(logdir))
  common = ["--config_file=" + config_file, "--logdir=" + logdir] + list(overrides)
  training = ["--mode=train", "--print_loss_steps={}".format(progress_every)]
  rows, curve, trained_s, started, finished = [], [], 0.0, time.time(), False
  for budget in sorted(budgets_min):
    if not finished:
      command = [sys.executable, "run.py"] + training + common + (["--continue_learning"] if rows else [])
      segment = TrainingSegment(command, log_path)
      log("  training to {:g} min of training time ...".format(budget))
      while segment.process.poll() is None:
        if segment.start is not None and trained_s + time.time() - segment.start >= 60 * budget:
          break
        time.sleep(poll_s)
      end = time.time()
      code = segment.stop()
      if segment.start is None:
        raise RuntimeError("training exited with {} before its first progress line (log: {})".format(code, log_path))
      if code not in (0, 128 + signal.SIGTERM):
        raise RuntimeError("training exited with {} (log: {})".format(code, log_path))
      finished = code == 0  # it reached max_steps (or the end of the data) before the budget
      curve.extend(((trained_s + t - segment.start) / 60, step, loss) for t, step, loss in segment.progress)
      trained_s += end - segment.start
    wer, dev_loss, step = evaluate_dev(common, log_path)
    rows.append({"budget_min": budget, "trained_min": trained_s / 60, "step": step, "dev_wer": wer,
                 "dev_loss": dev_loss, "train_loss": curve[-1][2] if curve else float("nan"),
                 "note": "training ended (max_steps) before this budget" if finished else ""})
    log("  {:g} min budget: {:.1f} min trained, step {}, dev WER {:.2%}, dev loss {:.2f}".format(
        budget, trained_s / 60, step, wer, dev_loss))
    if lm_decoding is not None:
      for split in ("dev", "test"):
        greedy, decoded = lm_decoding.wer(split, logdir, overrides, log_path)
        rows[-1].update({split + "_wer_greedy": greedy, split + "_wer_lm": decoded})
      log("    with the LM: dev WER {:.2%}, test WER {:.2%} (greedy test WER {:.2%})".format(
          rows[-1]["dev_wer_lm"], rows[-1]["test_wer_lm"], rows[-1]["test_wer_greedy"]))
  plot_path = os.path.join(output_dir, "accuracy.png")
  plot_curves(curve, rows, plot_path)
  return {"config_file": config_file, "overrides": list(overrides), "rows": rows, "curve": curve, "plot": plot_path,
          "logdir": logdir, "log": log_path, "total_wall_s": time.time() - started}


def plot_curves(curve, rows, path):
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  figure, (loss_axis, wer_axis) = plt.subplots(1, 2, figsize=(11, 4))
  loss_axis.plot([c[0] for c in curve], [c[2] for c in curve], ".", alpha=0.4, label="train loss (batch)")
  loss_axis.plot([r["trained_min"] for r in rows], [r["dev_loss"] for r in rows], "o-", label="dev loss")
  loss_axis.set_yscale("log")
  loss_axis.set_ylabel("CTC loss")
  loss_axis.legend()
  wer_axis.plot([r["trained_min"] for r in rows], [100 * r["dev_wer"] for r in rows], "o-")
  wer_axis.set_ylabel("dev WER (%)")
  for axis in (loss_axis, wer_axis):
    axis.set_xlabel("training wall time (min)")
    axis.grid(True, alpha=0.3)
  figure.tight_layout()
  figure.savefig(path, dpi=100)
  plt.close(figure)


def markdown(result):
  with_lm = all("dev_wer_lm" in row for row in result["rows"])
  lm_headers = " dev WER, LM (%) | test WER (%) | test WER, LM (%) |" if with_lm else ""
  lines = ["| training budget (min) | trained (min) | step | dev WER (%) |" + lm_headers +
           " dev loss | last train loss | note |",
           "|---|---|---|---|" + ("---|---|---|" if with_lm else "") + "---|---|---|"]
  for row in result["rows"]:
    lm_cells = " {:.2f} | {:.2f} | {:.2f} |".format(100 * row["dev_wer_lm"], 100 * row["test_wer_greedy"],
                                                    100 * row["test_wer_lm"]) if with_lm else ""
    lines.append("| {:g} | {:.1f} | {} | {:.2f} |{} {:.2f} | {:.2f} | {} |".format(
        row["budget_min"], row["trained_min"], row["step"], 100 * row["dev_wer"], lm_cells, row["dev_loss"],
        row["train_loss"], row["note"]))
  return "\n".join(lines)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--budgets", default="5,15,30", help="minutes of training time, comma-separated")
  parser.add_argument("--config_file", default=MINI_CONFIG)
  parser.add_argument("--dtype", default=None, help="run.py --dtype override (float32, bfloat16, mixed)")
  parser.add_argument("--run_args", default="",
                      help="more run.py overrides for training and evaluation, e.g. --run_args=--max_steps=11000 to "
                           "fit the schedule to the budget")
  parser.add_argument("--output_dir", default=os.path.join(REPO, "results", "bench",
                                                            time.strftime("accuracy_%Y%m%d_%H%M%S")))
  parser.add_argument("--lm", help="ARPA word LM: adds dev and test WER of LM beam search (scripts/decode.py) at "
                                   "every budget")
  parser.add_argument("--lm_alpha", type=float, default=0.5)
  parser.add_argument("--lm_beta", type=float, default=0.0)
  parser.add_argument("--unknown_word_offset", type=float, default=-15.0)
  args = parser.parse_args(argv)
  overrides = (["--dtype=" + args.dtype] if args.dtype else []) + shlex.split(args.run_args)
  os.makedirs(args.output_dir, exist_ok=True)
  lm_decoding = LanguageModelDecoding(args.lm, args.config_file, args.output_dir, args.lm_alpha, args.lm_beta,
                                      args.unknown_word_offset) if args.lm else None
  result = run_budgets([float(b) for b in args.budgets.split(",")], args.output_dir, args.config_file, overrides,
                       lm_decoding=lm_decoding)
  with open(os.path.join(args.output_dir, "accuracy.json"), "w") as handle:
    json.dump(result, handle, indent=1)
  print(markdown(result))
  print("Plot: {}".format(result["plot"]))
  return 0


if __name__ == "__main__":
  sys.exit(main())

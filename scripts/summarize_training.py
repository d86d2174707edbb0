#!/usr/bin/env python
"""Training report of a logdir: a PNG of loss and dev WER against step and wall time, a Markdown table,
and a short summary on stdout. Reads ``train_progress.csv`` and ``eval_history.csv`` written by training."""
import argparse
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=wrong-import-position


def read_rows(path):
  if not os.path.isfile(path):
    return []
  with open(path, newline="") as handle:
    return list(csv.reader(handle))


def load_progress(logdir):
  rows = read_rows(os.path.join(logdir, "train_progress.csv"))
  if not rows or rows[0][0] != "global_step":
    raise ValueError("{}: no train_progress.csv with a header row".format(logdir))
  if len(rows) < 2:
    raise ValueError("{}: train_progress.csv has no progress rows (training ran fewer than print_loss_steps "
                     "steps)".format(logdir))
  return [{name: float(value) for name, value in zip(rows[0], row)} for row in rows[1:]]


def load_evaluations(logdir):
  return [(int(step), float(loss), float(wer)) for step, loss, wer in read_rows(os.path.join(logdir, "eval_history.csv"))]


def elapsed_at(progress, step):
  """Wall time (s) of the progress line closest to ``step``."""
  return min(progress, key=lambda row: abs(row["global_step"] - step))["elapsed_s"]


def write_report(logdir, output_prefix, final_wer=None, test_wer=None, dev_wer_lm=None, test_wer_lm=None,
                 dev_other_wer=None, dev_other_wer_lm=None):
  progress = load_progress(logdir)
  evaluations = load_evaluations(logdir)
  figure, (loss_axis, wer_axis) = plt.subplots(1, 2, figsize=(11, 4))
  loss_axis.plot([r["global_step"] for r in progress], [r["loss"] for r in progress], label="train loss", alpha=0.6)
  loss_axis.plot([r["global_step"] for r in progress], [r["mean_loss"] for r in progress], label="mean train loss")
  if evaluations:
    loss_axis.plot([e[0] for e in evaluations], [e[1] for e in evaluations], "o-", label="dev loss")
    wer_axis.plot([elapsed_at(progress, e[0]) / 60 for e in evaluations], [100 * e[2] for e in evaluations], "o-")
  loss_axis.set_xlabel("global step")
  loss_axis.set_ylabel("CTC loss")
  loss_axis.set_yscale("log")
  loss_axis.legend()
  wer_axis.set_xlabel("training wall time (min)")
  wer_axis.set_ylabel("dev WER (%)")
  wer_axis.grid(True, alpha=0.3)
  figure.tight_layout()
  figure.savefig(output_prefix + ".png", dpi=100)
  plt.close(figure)
  lines = ["| step | wall time (min) | train mean loss | dev loss | dev WER (%) |", "|---|---|---|---|---|"]
  for step, loss, wer in evaluations:
    row = min(progress, key=lambda r: abs(r["global_step"] - step))
    lines.append("| {} | {:.1f} | {:.3f} | {:.3f} | {:.2f} |".format(step, row["elapsed_s"] / 60, row["mean_loss"], loss,
                                                                     100 * wer))
  if final_wer is not None:
    lines.append("")
    lines.append("Final dev WER (standalone --mode=eval): {:.2f} %".format(100 * final_wer))
  if test_wer is not None:
    lines.append("Test WER of the --mode=infer predictions: {:.2f} %".format(100 * test_wer))
  for split, wer in (("Dev", dev_wer_lm), ("Test", test_wer_lm)):
    if wer is not None:
      lines.append("{} WER with the word LM (CTC beam search, scripts/decode.py): {:.2f} %".format(split, 100 * wer))
  for what, wer in (("greedy", dev_other_wer), ("with the word LM", dev_other_wer_lm)):
    if wer is not None:
      lines.append("Out-of-domain dev proxy (dev-other) WER, {}: {:.2f} %".format(what, 100 * wer))
  with open(output_prefix + ".md", "w") as handle:
    handle.write("\n".join(lines) + "\n")
  return progress, evaluations


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("--logdir", required=True)
  parser.add_argument("--output_prefix", help="default: <logdir>/training_report")
  parser.add_argument("--final_wer", type=float)
  parser.add_argument("--test_wer", type=float)
  parser.add_argument("--dev_wer_lm", type=float)
  parser.add_argument("--test_wer_lm", type=float)
  parser.add_argument("--dev_other_wer", type=float, help="greedy WER on the out-of-domain dev proxy")
  parser.add_argument("--dev_other_wer_lm", type=float, help="its WER with the word LM")
  args = parser.parse_args(argv)
  prefix = args.output_prefix or os.path.join(args.logdir, "training_report")
  try:
    progress, evaluations = write_report(args.logdir, prefix, args.final_wer, args.test_wer, args.dev_wer_lm,
                                         args.test_wer_lm, args.dev_other_wer, args.dev_other_wer_lm)
  except ValueError as error:
    sys.stderr.write("summarize_training.py: error: {}\n".format(error))
    return 1
  print("Training steps: {}".format(int(progress[-1]["global_step"])))
  print("Training wall time: {:.1f} min".format(progress[-1]["elapsed_s"] / 60))
  if evaluations:
    print("Dev WER during training: " + ", ".join("{:.1f}% @ {}".format(100 * w, s) for s, _, w in evaluations))
  print("Report: {}.md, plot: {}.png".format(prefix, prefix))
  return 0


if __name__ == "__main__":
  sys.exit(main())

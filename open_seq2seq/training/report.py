"""Training report of a logdir: a PNG of loss and dev WER against step and wall time, a Markdown table,
and a short summary on stdout. Reads ``train_progress.csv`` and ``eval_history.csv`` written by training."""
import argparse
import csv
import os

# A Figure of its own, not pyplot: no global backend to pick, and nothing a caller has open is touched.
from matplotlib.figure import Figure

from open_seq2seq.training.eval_history import read_evaluations
from open_seq2seq.utils.cli import one_line_errors


def read_rows(path):
  """The rows of a CSV file, [] when there is no such file (training has not written it yet)."""
  if not os.path.isfile(path):
    return []
  with open(path, newline="") as handle:
    return list(csv.reader(handle))


def load_progress(logdir):
  """train_progress.csv as a dict of floats per row (global_step, loss, mean_loss, elapsed_s in seconds, ...);
  ValueError when it is missing or holds no progress row."""
  rows = read_rows(os.path.join(logdir, "train_progress.csv"))
  if not rows or rows[0][0] != "global_step":
    raise ValueError("{}: no train_progress.csv with a header row".format(logdir))
  if len(rows) < 2:
    raise ValueError("{}: train_progress.csv has no progress rows (training ran fewer than print_loss_steps "
                     "steps)".format(logdir))
  return [{name: float(value) for name, value in zip(rows[0], row)} for row in rows[1:]]


def elapsed_at(progress, step):
  """Wall time (s) of the progress line closest to ``step``."""
  return min(progress, key=lambda row: abs(row["global_step"] - step))["elapsed_s"]


def write_report(logdir, output_prefix, final_wer=None, test_wer=None, dev_wer_lm=None, test_wer_lm=None,
                 dev_other_wer=None, dev_other_wer_lm=None):
  """Writes ``<output_prefix>.png`` and ``<output_prefix>.md`` (WERs given as fractions, None: not reported);
  returns (progress rows, evaluations). ValueError as load_progress raises it."""
  progress = load_progress(logdir)
  evaluations = read_evaluations(logdir)
  figure = Figure(figsize=(11, 4))
  loss_axis, wer_axis = figure.subplots(1, 2)
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
  lines = ["| step | wall time (min) | train mean loss | dev loss | dev WER (%) |", "|---|---|---|---|---|"]
  for step, loss, wer in evaluations:
    row = min(progress, key=lambda r: abs(r["global_step"] - step))
    lines.append("| {} | {:.1f} | {:.3f} | {:.3f} | {:.2f} |".format(step, row["elapsed_s"] / 60, row["mean_loss"],
                                                                     loss, 100 * wer))
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


@one_line_errors(errors=(ValueError,), prefix="summarize_training.py: error: ")
def main(argv=None):
  """Writes the report the command line ``argv`` (default: sys.argv[1:]) asks for and prints its summary;
  returns 0, or 1 after one line on stderr when the logdir holds no training progress."""
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
  progress, evaluations = write_report(args.logdir, prefix, args.final_wer, args.test_wer, args.dev_wer_lm,
                                       args.test_wer_lm, args.dev_other_wer, args.dev_other_wer_lm)
  print("Training steps: {}".format(int(progress[-1]["global_step"])))
  print("Training wall time: {:.1f} min".format(progress[-1]["elapsed_s"] / 60))
  if evaluations:
    print("Dev WER during training: " + ", ".join("{:.1f}% @ {}".format(100 * w, s) for s, _, w in evaluations))
  print("Report: {}.md, plot: {}.png".format(prefix, prefix))
  return 0

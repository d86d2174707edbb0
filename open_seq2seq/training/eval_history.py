"""``eval_history.csv`` of a training logdir: one row per evaluation during training, the global step, the dev
loss and the dev WER (a fraction), under a header row. Written by the training loop's evaluation hook, read by
the training report."""
import csv
import os

FILE_NAME = "eval_history.csv"
HEADER = ["global_step", "eval_loss", "eval_wer"]


def append_evaluation(logdir, step, loss, wer):
  """Appends one row to ``<logdir>/eval_history.csv``, writing the header first when the file is new or empty."""
  with open(os.path.join(logdir, FILE_NAME), "a", newline="") as handle:
    writer = csv.writer(handle)
    if handle.tell() == 0:
      writer.writerow(HEADER)
    writer.writerow([step, loss, wer])


def read_evaluations(logdir):
  """``[(step, dev loss, dev WER as a fraction)]`` of ``<logdir>/eval_history.csv`` (with its header row, or
  without one as earlier versions wrote it); [] without the file. ValueError naming the file for a row that
  is not three numbers."""
  path = os.path.join(logdir, FILE_NAME)
  if not os.path.isfile(path):
    return []
  with open(path, newline="") as handle:
    rows = list(csv.reader(handle))
  if rows and rows[0] == HEADER:
    rows = rows[1:]
  try:
    return [(int(step), float(loss), float(wer)) for step, loss, wer in rows]
  except ValueError as error:
    raise ValueError("{}: expected rows of global_step,eval_loss,eval_wer ({})".format(path, error)) from None

"""scripts/summarize_training.py: the Markdown table pairs every evaluation with the nearest progress line, and a
logdir without progress rows is a clear error instead of a traceback."""
import csv

from open_seq2seq.training import report as summarize

HEADER = ["global_step", "loss", "mean_loss", "learning_rate", "fps", "elapsed_s"]


def write_logdir(path, progress, evaluations):
  with open(path / "train_progress.csv", "w", newline="") as handle:
    csv.writer(handle).writerows([HEADER] + progress)
  with open(path / "eval_history.csv", "w", newline="") as handle:
    csv.writer(handle).writerows(evaluations)


def test_report_table(tmp_path, capsys):
  write_logdir(tmp_path, [[50, 9.0, 10.0, 0.01, 100, 60], [100, 7.0, 8.0, 0.01, 100, 120],
                          [150, 5.0, 6.5, 0.01, 100, 181]], [[100, 7.5, 0.5], [150, 6.0, 0.25]])
  assert summarize.main(["--logdir", str(tmp_path), "--final_wer", "0.2", "--test_wer_lm", "0.0912"]) == 0
  table = (tmp_path / "training_report.md").read_text().splitlines()
  assert table[2:4] == ["| 100 | 2.0 | 8.000 | 7.500 | 50.00 |", "| 150 | 3.0 | 6.500 | 6.000 | 25.00 |"]
  assert "Final dev WER (standalone --mode=eval): 20.00 %" in table
  assert "Test WER with the word LM (CTC beam search, scripts/decode.py): 9.12 %" in table
  assert not any(line.startswith("Dev WER with") for line in table)
  assert (tmp_path / "training_report.png").stat().st_size > 0
  assert "Dev WER during training: 50.0% @ 100, 25.0% @ 150" in capsys.readouterr().out


def test_no_progress_rows(tmp_path, capsys):
  write_logdir(tmp_path, [], [[15, 9.0, 1.0]])
  assert summarize.main(["--logdir", str(tmp_path)]) == 1
  assert "train_progress.csv has no progress rows" in capsys.readouterr().err

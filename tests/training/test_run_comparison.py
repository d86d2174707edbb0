"""training/run_comparison.py (jasper-compare-runs): it reads the logs that scripts/decode.py and
wer_of_predictions.py really write (produced here by those tools on a fabricated logits dump), puts runs side by
side with their differences to the baseline, and names the run or file in one line on bad input."""
import csv
import os
import re

import jiwer
import pytest

from open_seq2seq.data.speech2text import wer_of_predictions
from open_seq2seq.decoders import lm_decode
from open_seq2seq.training import run_comparison as compare
from open_seq2seq.training.eval_history import append_evaluation
from tests.scripts import test_decode_with_lm as decode_tests

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
VOCAB = decode_tests.VOCAB
# scripts/decode.py's test dump (a 3-gram LM, two utterances' logits, their manifest), as a fixture here too
dump = decode_tests.dump


def decode_into(logdir, split, dump, capsys):
  """Runs scripts/decode.py's main on the dump at alpha 1 and writes its stdout to decode_<split>.log, as the main
  job's tee does."""
  capsys.readouterr()
  assert lm_decode.main(["--logits", dump["logits"], "--labels", dump["labels"], "--lm", dump["lm"], "--vocab",
                         VOCAB, "--alpha", "1", "--beta", "0", "--unknown_word_offset", "0",
                         "--infer_output_file", str(logdir / (split + "_predictions_lm.csv"))]) == 0
  (logdir / "decode_{}.log".format(split)).write_text(capsys.readouterr().out)


def test_reads_what_decode_and_wer_of_predictions_print(tmp_path, dump, capsys):
  baseline = tmp_path / "base"
  baseline.mkdir()
  decode_into(baseline, "dev-other", dump, capsys)
  conditions = tmp_path / "CONDITIONS.TXT"
  conditions.write_text("a clean {}\nb phone {}\n")
  assert wer_of_predictions.main(["--predictions", str(baseline / "dev-other_predictions_lm.csv"), "--manifest",
                                  dump["labels"], "--conditions", str(conditions)]) == 0
  printed = capsys.readouterr().out
  (baseline / "dev-other_conditions.md").write_text("".join(printed.splitlines(True)[1:]))
  # the LM transcripts scored independently, utterance by utterance (jiwer: word edit distance)
  with open(baseline / "dev-other_predictions_lm.csv", newline="") as handle:
    predictions = {row["wav_filename"]: row["predicted_transcript"] for row in csv.DictReader(handle)}
  wrong = {name: jiwer.process_words(reference, predictions[name]).wer * 3
           for name, reference in (("a.wav", "the cat sat"), ("b.wav", "a dog sat"))}

  run = compare.load_run("base", str(baseline))
  assert run.decodings["dev-other"].greedy == pytest.approx(2 / 6, abs=1e-4)  # "sad" and "zat"
  assert run.decodings["dev-other"].alpha == 1.0 and run.decodings["dev-other"].beta == 0.0
  assert run.decodings["dev-other"].lm == pytest.approx((wrong["a.wav"] + wrong["b.wav"]) / 6, abs=1e-4)
  assert run.conditions["dev-other"] == {"clean": (1, pytest.approx(100 * wrong["a.wav"] / 3, abs=0.01)),
                                         "phone": (1, pytest.approx(100 * wrong["b.wav"] / 3, abs=0.01))}


def write_run(logdir, decodings, evaluations=(), conditions=None):
  """A main-job-like logdir: decode logs in decode.py's format ({split: (greedy, lm or None)}), an eval history
  ([(step, wer)]) and a dev-other condition table ({condition: WER in %})."""
  os.makedirs(logdir, exist_ok=True)
  for split, (greedy, lm) in decodings.items():
    lines = ["greedy WER: {:.4f}".format(greedy)]
    if lm is not None:
      lines += ["| alpha | beta | WER | seconds |", "|---|---|---|---|", "| 0.5 | 0 | {:.4f} | 1.0 |".format(lm),
                "best: alpha 0.5, beta 0, WER {:.4f}".format(lm)]
    with open(os.path.join(logdir, "decode_{}.log".format(split)), "w") as handle:
      handle.write("\n".join(lines) + "\n")
  for step, wer in evaluations:
    append_evaluation(logdir, step, 10.0, wer)
  if conditions:
    with open(os.path.join(logdir, "dev-other_conditions.md"), "w") as handle:
      handle.write("| condition | utterances | WER (%) |\n|---|---|---|\n")
      handle.writelines("| {} | 75 | {:.2f} |\n".format(name, wer) for name, wer in conditions.items())


def table_rows(text, first_cell):
  """The cells of the Markdown rows of ``text`` whose first cell is ``first_cell``."""
  return [[cell.strip() for cell in line.strip("|").split("|")] for line in text.splitlines()
          if line.startswith("| {} |".format(first_cell))]


def test_side_by_side_with_differences(tmp_path, capsys):
  write_run(tmp_path / "a", {"dev-hibari": (0.9553, 0.8397), "dev-clean": (0.2817, 0.1245), "extra": (0.5, None)},
            [(1000, 0.7381), (2000, 0.6078)], {"clean": 14.70, "room": 27.63})
  write_run(tmp_path / "b", {"dev-clean": (0.2641, 0.1245)}, [(1000, 0.7000), (3000, 0.5)], {"room": 30.0})
  assert compare.main(["main=" + str(tmp_path / "a"), str(tmp_path / "b"), "--output_prefix",
                       str(tmp_path / "out" / "cmp")]) == 0
  text = capsys.readouterr().out
  assert (tmp_path / "out" / "cmp.md").read_text() == text
  assert (tmp_path / "out" / "cmp.png").read_bytes()[:8] == PNG_MAGIC
  header = table_rows(text, "run")[0]
  # the main job's sets in its order, then the others by name
  assert header == ["run", "dev-clean greedy", "dev-clean LM", "dev-hibari greedy", "dev-hibari LM", "extra greedy",
                    "extra LM"]
  assert table_rows(text, "main")[0] == ["main", "28.17", "12.45", "95.53", "83.97", "50.00", "-"]
  # b is named by its folder; 26.41 - 28.17 = -1.76, and an equal figure still shows its difference
  assert table_rows(text, "b")[0] == ["b", "26.41 (-1.76)", "12.45 (+0.00)", "-", "-", "-", "-"]
  assert table_rows(text, "room")[0] == ["room", "27.63", "30.00 (+2.37)"]
  assert table_rows(text, "clean")[0] == ["clean", "14.70", "-"]
  steps = {row[0]: row[1:] for row in (table_rows(text, s)[0] for s in ("1000", "2000", "3000"))}
  assert steps == {"1000": ["73.81", "70.00 (-3.81)"], "2000": ["60.78", "-"], "3000": ["-", "50.00"]}


def test_baseline_by_name(tmp_path, capsys):
  write_run(tmp_path / "a", {"dev-clean": (0.30, 0.12)})
  write_run(tmp_path / "b", {"dev-clean": (0.25, 0.10)})
  assert compare.main([str(tmp_path / "a"), str(tmp_path / "b"), "--baseline", "b"]) == 0
  text = capsys.readouterr().out
  assert "difference to b." in text
  assert table_rows(text, "a")[0] == ["a", "30.00 (+5.00)", "12.00 (+2.00)"]
  assert table_rows(text, "b")[0] == ["b", "25.00", "10.00"]


@pytest.mark.parametrize("setup, arguments, message", [
    (lambda d: None, ["{d}/missing"], r"run 'missing': .*/missing is not a folder"),
    (lambda d: os.makedirs(d + "/empty"), ["{d}/empty"], r"run 'empty': .*holds no decode_<split>.log and no "
                                                         r"eval_history.csv"),
    (lambda d: write_run(d + "/x", {"dev-clean": (0.3, None)}), ["{d}/x", "--baseline", "y"],
     r"--baseline 'y' is none of the runs \(x\)"),
    (lambda d: write_run(d + "/x", {"dev-clean": (0.3, None)}), ["{d}/x", "{d}/x"], r"two runs are named 'x'"),
    (lambda d: write_run(d + "/x", {"dev-clean": (0.3, None)}), ["={d}/x"], r"expected NAME=LOGDIR or LOGDIR"),
])
def test_bad_input_is_one_line(tmp_path, capsys, setup, arguments, message):
  setup(str(tmp_path))
  assert compare.cli([a.format(d=tmp_path) for a in arguments]) == 1
  error = capsys.readouterr().err
  assert error.count("\n") == 1 and re.search(message, error), error


def test_unfinished_decode_log_is_listed_not_fatal(tmp_path, capsys):
  write_run(tmp_path / "x", {"dev-clean": (0.3, 0.1)})
  unfinished = tmp_path / "x" / "decode_dev-other.log"
  unfinished.write_text("")
  assert compare.cli([str(tmp_path / "x")]) == 0
  text = capsys.readouterr().out
  assert table_rows(text, "run")[0] == ["run", "dev-clean greedy", "dev-clean LM"]
  assert text.splitlines()[-1] == ("Decode logs without a greedy WER yet (still decoding, or failed): " +
                                   str(unfinished))


def test_decoding_still_running_shows_greedy_only(tmp_path, capsys):
  write_run(tmp_path / "x", {"dev-clean": (0.3, None)})
  with open(tmp_path / "x" / "decode_dev-clean.log", "a") as handle:
    handle.write("| alpha | beta | WER | seconds |\n|---|---|---|---|\n")
  assert compare.main([str(tmp_path / "x")]) == 0
  assert table_rows(capsys.readouterr().out, "x")[0] == ["x", "30.00", "-"]


def test_binary_log_names_the_file(tmp_path, capsys):
  write_run(tmp_path / "x", {"dev-clean": (0.3, 0.1)})
  (tmp_path / "x" / "dev-other_conditions.md").write_bytes(b"\x9c\xff\x00 not text")
  assert compare.cli([str(tmp_path / "x")]) == 1
  error = capsys.readouterr().err
  assert "dev-other_conditions.md: not a text file" in error and error.count("\n") == 1

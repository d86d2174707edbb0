"""scripts/wer_of_predictions.py: overall corpus WER and the per-condition table, against hand counts."""
import os
import subprocess
import sys

import pytest

from open_seq2seq.data.speech2text import wer_of_predictions as wop
from tests.e2e.e2e_helpers import REPO


def _write(path, header, rows):
  path.write_text(header + "\n" + "".join(",".join(row) + "\n" for row in rows))
  return str(path)


def test_per_condition_table(tmp_path, capsys):
  manifest = _write(tmp_path / "m.csv", "wav_filename,wav_filesize,transcript",
                    [("a/1-1-0000.wav", "1", "one two three four"), ("a/1-1-0001.wav", "1", "five six"),
                     ("a/1-1-0002.wav", "1", "seven eight")])
  predictions = _write(tmp_path / "p.csv", "wav_filename,predicted_transcript",
                       [("a/1-1-0000.wav", "one two tree four"), ("a/1-1-0001.wav", "five six"),
                        ("a/1-1-0002.wav", "seven")])
  conditions = tmp_path / "CONDITIONS.TXT"
  conditions.write_text('1-1-0000 room {"reverberance": 60}\n1-1-0001 room {}\n1-1-0002 phone {}\n')
  assert wop.main(["--predictions", predictions, "--manifest", manifest, "--conditions", str(conditions)]) == 0
  lines = capsys.readouterr().out.splitlines()
  assert lines[0] == "{:.6f}".format(2 / 8)  # one substitution, one deletion over 8 words
  assert "| phone | 1 | 50.00 |" in lines  # 1 error / 2 words
  assert "| room | 2 | 16.67 |" in lines  # 1 error / 6 words


def _one_utterance_args(tmp_path, utt_id, conditions):
  """Arguments of a one-utterance manifest and prediction, with ``conditions`` (bytes) as CONDITIONS file."""
  wav = "x/{}.wav".format(utt_id)
  manifest = _write(tmp_path / "m.csv", "wav_filename,wav_filesize,transcript", [(wav, "1", "a")])
  predictions = _write(tmp_path / "p.csv", "wav_filename,predicted_transcript", [(wav, "a")])
  listed = tmp_path / "conditions.txt"
  listed.write_bytes(conditions)
  return ["--predictions", predictions, "--manifest", manifest, "--conditions", str(listed)]


def test_unlisted_utterance_is_named(tmp_path):
  with pytest.raises(ValueError, match="9-9-0001"):
    wop.main(_one_utterance_args(tmp_path, "9-9-0001", b"9-9-0000 room {}\n"))


def test_malformed_conditions_are_named(tmp_path):
  with pytest.raises(ValueError, match="conditions.txt line 3: utterance 9-9-0000 is listed twice"):
    wop.main(_one_utterance_args(tmp_path, "9-9-0000", b"9-9-0000 clean {}\n\n9-9-0000 room {}\n"))
  with pytest.raises(ValueError, match="conditions.txt: not UTF-8"):
    wop.main(_one_utterance_args(tmp_path, "9-9-0000", b"9-9-0000 caf\xe9 {}\n"))


def test_blank_references_are_an_error_not_wer_zero(tmp_path):
  manifest = _write(tmp_path / "m.csv", "wav_filename,wav_filesize,transcript",
                    [("a.wav", "1", " "), ("b.wav", "1", "  ")])
  predictions = _write(tmp_path / "p.csv", "wav_filename,predicted_transcript", [("a.wav", "hello"), ("b.wav", "x")])
  with pytest.raises(ValueError, match=r"m\.csv: the 2 references hold no words"):
    wop.main(["--predictions", predictions, "--manifest", manifest])


def test_insertions_against_a_blank_reference_count(tmp_path, capsys):
  manifest = _write(tmp_path / "m.csv", "wav_filename,wav_filesize,transcript",
                    [("a.wav", "1", "one two"), ("b.wav", "1", " ")])
  predictions = _write(tmp_path / "p.csv", "wav_filename,predicted_transcript",
                       [("a.wav", "one two"), ("b.wav", "x y")])
  assert wop.main(["--predictions", predictions, "--manifest", manifest]) == 0
  assert capsys.readouterr().out.splitlines()[0] == "{:.6f}".format(2 / 2)  # two insertions over two words


@pytest.mark.parametrize("which", ["manifest", "predictions"])
def test_a_quote_that_swallows_rows_is_refused(tmp_path, which):
  rows = {"manifest": [("a.wav", "1", '"one'), ("b.wav", "1", "two"), ("c.wav", "1", "three")],
          "predictions": [("a.wav", "one"), ("b.wav", '"two'), ("c.wav", "three")]}
  clean = {"manifest": [("a.wav", "1", "one"), ("b.wav", "1", "two"), ("c.wav", "1", "three")],
           "predictions": [("a.wav", "one"), ("b.wav", "two"), ("c.wav", "three")]}
  files = {name: _write(tmp_path / (name + ".csv"), header, rows[name] if name == which else clean[name])
           for name, header in (("manifest", "wav_filename,wav_filesize,transcript"),
                                ("predictions", "wav_filename,predicted_transcript"))}
  with pytest.raises(ValueError, match=r"{}\.csv line {}: ".format(which, 2 if which == "manifest" else 3)):
    wop.main(["--predictions", files["predictions"], "--manifest", files["manifest"]])


@pytest.mark.parametrize("which", ["manifest", "predictions"])
def test_a_file_listed_twice_is_refused(tmp_path, which):
  header = {"manifest": "wav_filename,wav_filesize,transcript", "predictions": "wav_filename,predicted_transcript"}
  rows = {"manifest": [("a.wav", "1", "one"), ("a.wav", "1", "two")],
          "predictions": [("a.wav", "one"), ("a.wav", "two")]}
  single = {"manifest": [("a.wav", "1", "one")], "predictions": [("a.wav", "one")]}
  files = {name: _write(tmp_path / (name + ".csv"), header[name], rows[name] if name == which else single[name])
           for name in header}
  with pytest.raises(ValueError, match=r"{}\.csv (rows|lines) 2 and 3: .*a\.wav".format(which)):
    wop.main(["--predictions", files["predictions"], "--manifest", files["manifest"]])


def _manifest_and_predictions(tmp_path, predicted):
  manifest = _write(tmp_path / "m.csv", "wav_filename,wav_filesize,transcript",
                    [("a.wav", "1", "one two"), ("b.wav", "1", "three"), ("c.wav", "1", "four five")])
  predictions = _write(tmp_path / "p.csv", "wav_filename,predicted_transcript", predicted)
  return ["--predictions", predictions, "--manifest", manifest]


# Predictions that leave manifest rows out, name files the manifest does not list, or both: the WER of the
# overlap would look like the whole set's. (predicted rows, missing count, extra count)
MISMATCHED = [
    ([("a.wav", "one two"), ("c.wav", "four five")], 1, 0),
    ([("a.wav", "one two"), ("b.wav", "three"), ("c.wav", "four five"), ("d.wav", "six")], 0, 1),
    ([("./a.wav", "one two"), ("./b.wav", "three"), ("./c.wav", "four five")], 3, 3),
    ([], 3, 0),
]


@pytest.mark.parametrize("predicted,missing,extra", MISMATCHED)
def test_predictions_must_cover_exactly_the_manifest(tmp_path, predicted, missing, extra):
  expected = r"p\.csv does not match .*m\.csv: {} manifest rows without a prediction.*, {} predictions of files".format(
      missing, extra)
  with pytest.raises(ValueError, match=expected):
    wop.main(_manifest_and_predictions(tmp_path, predicted))


def test_an_error_is_one_line_without_traceback(tmp_path):
  args = _manifest_and_predictions(tmp_path, [("a.wav", "one two"), ("d.wav", "six")])
  result = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "wer_of_predictions.py")] + args,
                          capture_output=True, text=True, timeout=120, check=False)
  assert result.returncode == 1 and result.stdout == ""
  errors = [line for line in result.stderr.splitlines() if "error:" in line.lower()]  # not TensorFlow's notes
  assert len(errors) == 1 and errors[0].startswith("*** Error: ") and "1 predictions of files" in errors[0]
  assert "Traceback" not in result.stderr


def test_a_repeated_header_in_the_predictions_is_named(tmp_path):
  args = _manifest_and_predictions(tmp_path, [("a.wav", "one two"), ("wav_filename", "predicted_transcript"),
                                              ("b.wav", "three"), ("c.wav", "four five")])
  with pytest.raises(ValueError, match=r"p\.csv line 3: repeats the header"):
    wop.main(args)

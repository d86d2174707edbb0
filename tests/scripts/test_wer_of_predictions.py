"""scripts/wer_of_predictions.py: overall corpus WER and the per-condition table, against hand counts."""
import pytest

from tests.scripts.script_loader import load_script

wop = load_script("wer_of_predictions")


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

"""The predictions CSV: what write_predictions writes reads back unchanged, in order, with the bytes of the
csv module's default dialect; malformed files are refused naming the file and line (more cases:
tests/scripts/test_wer_of_predictions.py)."""
import pytest

from open_seq2seq.data.speech2text.predictions import read_predictions, write_predictions

NAMES = ["dev/b.wav", "dev/a, with comma.wav", "dev/\u00fc \"quoted\".wav", "/abs/c.wav"]
TRANSCRIPTS = ["two words", "", "it's a, comma", "caf\u00e9"]


def test_round_trip_keeps_order_and_text(tmp_path):
  path = str(tmp_path / "p.csv")
  write_predictions(path, NAMES, TRANSCRIPTS)
  assert list(read_predictions(path).items()) == list(zip(NAMES, TRANSCRIPTS))


def test_bytes_on_disk(tmp_path):
  path = tmp_path / "p.csv"
  write_predictions(str(path), ["a.wav", "b,c.wav"], ["one two", 'say "hi"'])
  assert path.read_bytes() == (b'wav_filename,predicted_transcript\r\na.wav,one two\r\n"b,c.wav","say ""hi"""\r\n')


def test_lists_of_different_length_are_refused(tmp_path):
  with pytest.raises(ValueError, match=r"p\.csv: 2 file names but 1 transcripts"):
    write_predictions(str(tmp_path / "p.csv"), ["a.wav", "b.wav"], ["x"])
  assert not (tmp_path / "p.csv").exists()


@pytest.mark.parametrize("text, message", [
    ("wav_filename,transcript\na.wav,x\n", r"p\.csv: expected columns wav_filename and predicted_transcript"),
    ("", r"p\.csv: expected columns"),
    ("wav_filename,predicted_transcript\na.wav\n", r"p\.csv line 2: expected 2 fields"),
    ("wav_filename,predicted_transcript\na.wav,x\nb.wav,y\na.wav,z\n",
     r"p\.csv lines 2 and 4: two predictions for a\.wav"),
])
def test_malformed_files_are_refused(tmp_path, text, message):
  path = tmp_path / "p.csv"
  path.write_text(text, encoding="utf-8")
  with pytest.raises(ValueError, match=message):
    read_predictions(str(path))

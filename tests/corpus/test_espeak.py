"""Tests for open_seq2seq/corpus/espeak.py: the check that no speaker silently fell back (needs espeak-ng)."""

import shutil

import pytest

from open_seq2seq.corpus import espeak as corpus_espeak
from open_seq2seq.corpus.errors import CorpusError

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")


def _speaker(n, voice, variant):
  return {"speaker": n, "chapter": n * 10 + 1, "split": "train-clean-100",
          "voice": voice, "variant": variant, "speed": 170, "pitch": 50}


def test_check_speakers_detects_fallback(monkeypatch):
  espeak = shutil.which("espeak-ng")
  corpus_espeak.check_speakers([_speaker(1, "en-us", "m1"), _speaker(2, "en", "m1"),
                                _speaker(3, "en-gb-x-rp", "f2")], espeak)
  with pytest.raises(CorpusError, match="no variant 'nonexistent'"):
    corpus_espeak.check_speakers([_speaker(1, "en-us", "nonexistent")], espeak)
  with pytest.raises(CorpusError, match="ignores variants"):
    corpus_espeak.check_speakers([_speaker(1, "en-gb", "f1")], espeak)
  with pytest.raises(CorpusError, match="render identically"):
    corpus_espeak.check_speakers([_speaker(1, "en-us", "klatt"),
                                  _speaker(2, "en-us", "klatt6")], espeak)
  # one voice+variant shared by two training speakers (their timbres differ) is fine
  corpus_espeak.check_speakers([_speaker(1, "en-us", "f1"), _speaker(2, "en-us", "f1")], espeak)
  # if the name check were fooled, the audio hash still catches the fallback
  real = corpus_espeak.espeak_voice_names
  monkeypatch.setattr(corpus_espeak, "espeak_voice_names", lambda e: (
      real(e)[0], real(e)[1] | {"m99"}))
  with pytest.raises(CorpusError, match="ignores variant 'm99'"):
    corpus_espeak.check_speakers([_speaker(1, "en-us", "m99")], espeak)

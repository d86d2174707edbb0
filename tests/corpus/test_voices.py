"""The mini corpus's voice transforms and proxy conditions, measured with independent estimators (WORLD's
own F0 and envelope analysis, Welch PSD slopes, closed-form SNR)."""
import math
import random
import shutil
import subprocess

import numpy as np
import pytest
import scipy.signal
import soundfile as sf

from open_seq2seq.corpus import voices

pyworld = pytest.importorskip("pyworld")
RATE = 16000


def _vowel(f0=120.0, formant_hz=1000.0, seconds=1.0):
  """A sustained vowel-like tone: harmonics of ``f0`` under one resonance at ``formant_hz``."""
  t = np.arange(int(RATE * seconds)) / RATE
  signal = np.zeros_like(t)
  for k in range(1, int(7000 / f0)):
    freq = k * f0
    signal += np.sin(2 * np.pi * freq * t) / (1.0 + ((freq - formant_hz) / 150.0) ** 2)
  return 0.5 * signal / np.max(np.abs(signal))


def _median_f0(signal):
  f0, times = pyworld.dio(signal, RATE, frame_period=10.0)
  f0 = pyworld.stonemask(signal, f0, times, RATE)
  return float(np.median(f0[f0 > 0]))


def _envelope_peak_hz(signal):
  f0, times = pyworld.harvest(signal, RATE, frame_period=10.0)
  envelope = pyworld.cheaptrick(signal, f0, times, RATE)
  mean = envelope[len(envelope) // 4: -len(envelope) // 4].mean(axis=0)
  return np.argmax(mean) * RATE / 2 / (len(mean) - 1)


@pytest.mark.skipif(shutil.which("sox") is None, reason="needs sox")
def test_timbre_scales_the_formants(tmp_path):
  source = tmp_path / "in.wav"
  sf.write(str(source), _vowel(), RATE, subtype="PCM_16")
  speaker = {"formant_shift": 1.1}
  out = tmp_path / "out.wav"
  subprocess.run(["sox", "-R", str(source), str(out)] + voices.timbre_sox_effects(speaker), check=True)
  shifted, _ = sf.read(str(out))
  assert _median_f0(shifted) == pytest.approx(120.0 * 1.1, rel=0.03)
  assert _envelope_peak_hz(shifted) == pytest.approx(1000.0 * 1.1, rel=0.06)
  assert np.max(np.abs(shifted)) == pytest.approx(10 ** (-1 / 20), abs=0.01)  # gain -n -1
  assert voices.timbre_sox_effects({"speaker": 1}) == []  # held-out speakers keep espeak-ng's timbre


def test_world_resynthesis_warps_the_envelope_and_adds_aperiodicity():
  signal = _vowel(f0=140.0, formant_hz=1200.0)
  params = {"envelope_warp": 1.08, "breathiness": 0.0, "jitter": 0.0, "seed": 1}
  warped = voices.world_resynthesis(signal, RATE, params)
  assert len(warped) == len(signal)
  assert np.max(np.abs(warped)) == pytest.approx(np.max(np.abs(signal)))
  assert _envelope_peak_hz(warped) == pytest.approx(1200.0 * 1.08, rel=0.06)
  assert _median_f0(warped) == pytest.approx(140.0, rel=0.03)

  def mean_aperiodicity(x):
    f0, times = pyworld.harvest(x, RATE, frame_period=10.0)
    return float(pyworld.d4c(x, f0, times, RATE)[f0 > 0].mean())
  plain = voices.world_resynthesis(signal, RATE, dict(params, envelope_warp=1.0))
  breathy = voices.world_resynthesis(signal, RATE, dict(params, envelope_warp=1.0, breathiness=0.6))
  # D4C, WORLD's own estimator, hears the added noise
  assert mean_aperiodicity(breathy) > mean_aperiodicity(plain) + 0.03
  # the same parameters give the same samples
  np.testing.assert_array_equal(warped, voices.world_resynthesis(signal, RATE, params))


def test_brown_noise_falls_at_6_db_per_octave():
  noise = voices.brown_noise(RATE * 8, np.random.default_rng(0))
  assert np.std(noise) == pytest.approx(1.0)
  freqs, psd = scipy.signal.welch(noise, RATE, nperseg=4096)
  band = (freqs > 100) & (freqs < 3000)
  slope = np.polyfit(np.log10(freqs[band]), np.log10(psd[band]), 1)[0]
  assert slope == pytest.approx(-2.0, abs=0.15)


@pytest.mark.parametrize("snr_db", [0.0, 8.5, 20.0])
def test_noise_is_mixed_at_the_requested_snr(snr_db):
  rng = np.random.default_rng(3)
  signal, noise = rng.standard_normal(5000) * 0.1, rng.standard_normal(5000) * 3.0
  mixed = voices.add_noise_at_snr(signal, noise, snr_db)
  measured = 10 * math.log10(np.mean(signal ** 2) / np.mean((mixed - signal) ** 2))
  assert measured == pytest.approx(snr_db, abs=1e-9)


def test_proxy_conditions_cycle_and_are_deterministic():
  speaker = {"speaker": 9001}
  names = [voices.proxy_condition(speaker, i)[0] for i in range(8)]
  assert sorted(names[:4]) == sorted(voices.PROXY_CONDITIONS)
  assert names[:4] == names[4:]
  assert voices.proxy_condition(speaker, 2) == voices.proxy_condition(speaker, 2)
  room = next(voices.proxy_condition(speaker, i) for i in range(4) if names[i] == "room")
  assert voices.proxy_sox_effects(*room)[0] == "reverb"
  assert voices.proxy_sox_effects("clean", {}) == []


def test_draw_timbre_ranges():
  rng = random.Random(0)
  for world in (False, True):
    timbre = voices.draw_timbre(rng, world, word_gaps=True)
    assert 0.88 <= timbre["formant_shift"] <= 1.14 and timbre["word_gap"] in (0, 1, 2, 3)
    assert ("world" in timbre) == world


def test_word_gaps_off_changes_nothing_but_the_gaps():
  # 200 draws each way from the same seed: the gaps are 0 without word_gaps and 0..3 (3 in 5 non-zero) with
  # them; every other parameter is the same draw, so switching the flag changes no other speaker's timbre.
  with_gaps = [voices.draw_timbre(rng, k % 10 == 0, word_gaps=True) for rng in [random.Random(1)] for k in range(200)]
  without = [voices.draw_timbre(rng, k % 10 == 0) for rng in [random.Random(1)] for k in range(200)]
  assert all(t["word_gap"] == 0 for t in without)
  assert 0.45 < sum(t["word_gap"] > 0 for t in with_gaps) / 200 < 0.75
  assert [dict(t, word_gap=0) for t in with_gaps] == without


def test_breathy_aperiodicity_profile():
  profile = voices.breathy_aperiodicity(3, 513, 0.5)
  assert profile.shape == (3, 513)
  freqs = np.linspace(0.0, 1.0, 513)
  np.testing.assert_allclose(profile[1], 0.15 + 0.85 * freqs ** 1.5)
  assert profile[0, 0] == pytest.approx(0.15) and profile[2, -1] == pytest.approx(1.0)

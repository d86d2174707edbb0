"""Train-time augmentation checked against closed forms: resampling ratios, SNRs, noise spectra, filter
responses, mask geometry; and the validation of the augmentation dict."""
import os

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import butter, sosfreqz, welch

from open_seq2seq.data.speech2text.audio import read_audio
from open_seq2seq.data.speech2text.augmentation import (KEYS, SignalAugmenter, alters_signal, describe_augmentation,
                                                         perturb_signal, spec_augment, validate_augmentation)
from open_seq2seq.data.speech2text.augmentation.channel import (apply_sos, butterworth_sos, cutoff_bucket,
                                                                 peaking_eq_sos, random_filter_sos)
from open_seq2seq.data.speech2text.augmentation.noise import babble, colored_noise
from open_seq2seq.data.speech2text.augmentation.params import NOISE_EXPONENTS

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
RATE = 16000


def _zero_runs(mask_1d):
  """Lengths of the runs of True in a boolean vector."""
  runs, current = [], 0
  for value in mask_1d:
    if value:
      current += 1
    elif current:
      runs.append(current)
      current = 0
  if current:
    runs.append(current)
  return runs


@pytest.mark.parametrize("ratio", [0.9, 1.1])
def test_speed_perturbation_stretches_time_and_lowers_pitch(ratio):
  rate = 16000
  t = np.arange(rate) / rate
  signal = np.sin(2 * np.pi * 440.0 * t).astype(np.float32)
  out = perturb_signal(signal, {"speed_perturbation_ratio": [ratio]}, np.random.default_rng(0))
  assert abs(len(out) - ratio * len(signal)) <= 1
  spectrum = np.abs(np.fft.rfft(out * np.hanning(len(out))))
  peak_hz = np.argmax(spectrum) * rate / len(out)
  assert peak_hz == pytest.approx(440.0 / ratio, abs=2.0)
  # A tone in the pass band keeps its level: RMS 1/sqrt(2) away from the edges.
  assert out.dtype == np.float32
  assert np.sqrt(np.mean(out[800:-800] ** 2)) == pytest.approx(1 / np.sqrt(2), rel=1e-3)


def test_noise_level_in_decibels():
  signal = np.zeros(200000, dtype=np.float32)
  out = perturb_signal(signal, {"noise_level_min": -40, "noise_level_max": -39}, np.random.default_rng(1))
  assert np.std(out) == pytest.approx(10 ** (-40 / 20), rel=0.02)


def test_spec_augment_masks_respect_counts_and_widths():
  widths_seen_f, widths_seen_t = set(), set()
  for seed in range(300):
    features = np.ones((120, 64), dtype=np.float32)
    out = spec_augment(features, {"n_freq_mask": 2, "width_freq_mask": 6, "n_time_mask": 2, "width_time_mask": 5},
                       np.random.default_rng(seed))
    zero = out == 0
    zero_columns = zero.all(axis=0)
    zero_rows = zero.all(axis=1)
    # Every zeroed cell lies in a fully zeroed column or row: masks are bands, nothing else changes.
    assert np.array_equal(zero, zero_columns[None, :] | zero_rows[:, None])
    column_runs, row_runs = _zero_runs(zero_columns), _zero_runs(zero_rows)
    # Two masks of width <= W cover at most 2 runs, each at most 2W wide (when they touch or overlap).
    assert len(column_runs) <= 2 and sum(column_runs) <= 12 and max(column_runs, default=0) <= 12
    assert len(row_runs) <= 2 and sum(row_runs) <= 10
    if len(column_runs) == 2:
      widths_seen_f.update(column_runs)
    if len(row_runs) == 2:
      widths_seen_t.update(row_runs)
  assert max(widths_seen_f) == 6 and min(widths_seen_f) == 1
  assert max(widths_seen_t) == 5 and min(widths_seen_t) == 1


def test_time_masks_skip_utterances_shorter_than_the_width():
  features = np.ones((3, 8), dtype=np.float32)
  out = spec_augment(features, {"n_time_mask": 5, "width_time_mask": 50}, np.random.default_rng(0))
  assert np.array_equal(out, features)


def test_validation_errors_name_the_key():
  with pytest.raises(ValueError, match="unknown key"):
    validate_augmentation({"time_warp": 3}, 64)
  with pytest.raises(ValueError, match="width_freq_mask=80 exceeds num_audio_features=64"):
    validate_augmentation({"width_freq_mask": 80}, 64)
  with pytest.raises(ValueError, match="noise_level_min and noise_level_max"):
    validate_augmentation({"noise_level_min": -90}, 64)


# --- validation --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("augmentation, key", [
    ({"reverb_probability": 0.5}, "reverb_probability"),
    ({"rt60_range": [0.7, 0.2]}, "rt60_range"),
    ({"noise_snr_db_range": [10]}, "noise_snr_db_range"),
    ({"noise_prob": 1.5}, "noise_prob"),
    ({"babble_prob": -0.1}, "babble_prob"),
    ({"gain_prob": True}, "gain_prob"),
    ({"noise_colors": ["white", "grey"]}, "noise_colors"),
    ({"babble_speakers_range": [2.5, 4]}, "babble_speakers_range"),
    ({"filter_prob": 0.5, "lowpass_hz_range": [3000, 9000]}, "lowpass_hz_range"),
    # resampling factors whose Fraction would round to 0/100 or overflow, or lengthen a clip 500-fold
    ({"speed_perturbation_ratio": [1e-3]}, "speed_perturbation_ratio"),
    ({"speed_perturbation_ratio": [float("inf")]}, "speed_perturbation_ratio"),
    ({"speed_perturbation_ratio": [500.0]}, "speed_perturbation_ratio"),
    ({"speed_perturbation_ratio": 0.999}, "speed_perturbation_ratio"),
])
def test_each_bad_value_is_a_one_line_error_naming_the_key(augmentation, key):
  with pytest.raises(ValueError) as error:
    validate_augmentation(augmentation, 64)
  assert key in str(error.value) and "\n" not in str(error.value)


def test_vtlp_needs_the_librosa_logfbank_pipeline():
  validate_augmentation({"vtlp_prob": 0.5}, 64, backend="librosa", input_type="logfbank")
  for backend, input_type in (("psf", "logfbank"), ("librosa", "mfcc")):
    with pytest.raises(ValueError, match="vtlp_prob=0.5 needs backend='librosa'") as error:
      validate_augmentation({"vtlp_prob": 0.5}, 64, backend=backend, input_type=input_type)
    assert "\n" not in str(error.value)


def test_every_key_is_documented_once_with_its_default():
  lines = describe_augmentation()
  assert len(lines) == len(KEYS) == len(set(KEYS))
  with open(os.path.join(REPO, "docs", "augmentation.md")) as handle:
    rows = {line.split("|")[1].strip(): line for line in handle if line.startswith("| `")}
  for name, key in KEYS.items():
    # docs/augmentation.md's table row: | `name` | allowed values | `default` | meaning |
    cells = [cell.strip() for cell in rows["`{}`".format(name)].split("|")]
    assert cells[3] == "`{}`".format(repr(key.default).replace("'", '"')), (name, cells[3])
    assert cells[2] == key.kind.text, (name, cells[2])


def test_empty_augmentation_leaves_the_signal_untouched():
  signal = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
  assert not alters_signal({}) and not alters_signal(None) and not alters_signal({"n_freq_mask": 2})
  np.testing.assert_array_equal(perturb_signal(signal, {}, np.random.default_rng(0)), signal)


# --- noise ------------------------------------------------------------------------------------------------------

def _snr_db(signal, mixture):
  signal = signal.astype(np.float64)
  return 10 * np.log10(np.mean(signal ** 2) / np.mean((mixture.astype(np.float64) - signal) ** 2))


def _speechlike(num_samples=32000, seed=0):
  rng = np.random.default_rng(seed)
  t = np.arange(num_samples) / RATE
  return (np.sin(2 * np.pi * 180 * t) * np.maximum(0, np.sin(2 * np.pi * 3 * t)) + 0.01 * rng.standard_normal(
      num_samples)).astype(np.float32)


@pytest.mark.parametrize("color", sorted(NOISE_EXPONENTS))
def test_noise_is_mixed_at_the_drawn_snr(color):
  signal = _speechlike()
  for seed, snr_db in enumerate((-3.0, 12.5, 31.0)):
    augmentation = {"noise_prob": 1.0, "noise_colors": [color], "noise_snr_db_range": [snr_db, snr_db]}
    mixture = perturb_signal(signal, augmentation, np.random.default_rng(seed))
    assert mixture.dtype == np.float32 and mixture.shape == signal.shape
    assert _snr_db(signal, mixture) == pytest.approx(snr_db, abs=0.01)


@pytest.mark.parametrize("color", sorted(NOISE_EXPONENTS))
def test_noise_psd_slope_matches_its_colour(color):
  noise = colored_noise(color, 2 ** 17, np.random.default_rng(3))
  freqs, psd = welch(noise, fs=RATE, nperseg=4096)
  band = (freqs >= 50) & (freqs <= 6000)
  slope = np.polyfit(np.log10(freqs[band]), np.log10(psd[band]), 1)[0]
  assert slope == pytest.approx(-NOISE_EXPONENTS[color], abs=0.1)


def _write_utterances(root, lengths, seed=0):
  rng = np.random.default_rng(seed)
  paths = []
  for index, length in enumerate(lengths):
    paths.append(os.path.join(str(root), "utt{}.wav".format(index)))
    sf.write(paths[-1], (rng.standard_normal(length) * 3000 * (index + 1)).astype(np.int16), RATE)
  return paths


def test_babble_is_mixed_at_the_drawn_snr_from_other_utterances(tmp_path):
  paths = _write_utterances(tmp_path, [4000, 9000, 20000, 7000, 12000, 3000])
  read_paths = []

  def read(path):
    read_paths.append(path)
    return read_audio(path, RATE)

  signal = _speechlike(16000)
  for seed in range(6):
    snr_db = 4.0 + seed
    augmentation = {"babble_prob": 1.0, "babble_snr_db_range": [snr_db, snr_db], "babble_speakers_range": [5, 5]}
    augmenter = SignalAugmenter(augmentation, RATE, paths, read)
    del read_paths[:]
    mixture = augmenter(signal, np.random.default_rng(seed), path=paths[seed])
    assert _snr_db(signal, mixture) == pytest.approx(snr_db, abs=0.01)
    # Five distinct other utterances, never the utterance itself; short ones are looped to the length.
    assert len(read_paths) == len(set(read_paths)) == 5 and paths[seed] not in read_paths


def test_babble_sums_equal_power_loops():
  other = np.array([1.0, -2.0, 3.0], np.float32)
  total = babble(["a", "b"], lambda path: other if path == "a" else 2 * other, 2, 7, np.random.default_rng(0))
  # Each utterance is scaled to unit power, so both contribute the same rotated, looped pattern shape.
  unit = other / np.sqrt(np.mean(other.astype(np.float64) ** 2))
  rotations = [np.resize(np.roll(unit, -k), 7) for k in range(3)]
  assert any(np.allclose(total, a + b) for a in rotations for b in rotations)


# --- channel ------------------------------------------------------------------------------------------------------

def _band_energy(signal, low, high):
  spectrum = np.abs(np.fft.rfft(signal.astype(np.float64))) ** 2
  freqs = np.fft.rfftfreq(len(signal), 1.0 / RATE)
  return spectrum[(freqs >= low) & (freqs < high)].sum()


def test_telephone_channel_removes_everything_above_4_khz():
  white = np.random.default_rng(0).standard_normal(2 ** 16).astype(np.float32)
  out = perturb_signal(white, {"telephone_prob": 1.0}, np.random.default_rng(0))
  assert out.shape == white.shape and out.dtype == np.float32
  assert _band_energy(out, 4000, 8001) < 1e-3 * _band_energy(white, 4000, 8001)
  assert _band_energy(out, 400, 3400) == pytest.approx(_band_energy(white, 400, 3400), rel=0.04)
  # The 4th-order 300 Hz high-pass: |H(100 Hz)|^2 = 1 / (1 + 3^8) for an analog Butterworth.
  assert _band_energy(out, 80, 120) < 3e-3 * _band_energy(white, 80, 120)


def _gain_at(sos, frequency, num_samples=RATE):
  """Steady-state amplitude gain of ``apply_sos`` on a sine, by projection onto sin/cos."""
  t = np.arange(num_samples) / RATE
  out = apply_sos(np.sin(2 * np.pi * frequency * t).astype(np.float32), sos).astype(np.float64)[num_samples // 2:]
  basis = np.stack([np.sin(2 * np.pi * frequency * t), np.cos(2 * np.pi * frequency * t)])[:, num_samples // 2:]
  return np.hypot(*(basis @ out / (basis ** 2).sum(axis=1)))


@pytest.mark.parametrize("kind, order, cutoff, probe", [("lowpass", 4, 3000.0, 4500.0), ("lowpass", 6, 5000.0, 6500.0),
                                                         ("highpass", 2, 300.0, 120.0), ("highpass", 5, 200.0, 90.0)])
def test_butterworth_attenuation_beyond_the_cutoff(kind, order, cutoff, probe):
  gain = _gain_at(butterworth_sos(kind, order, cutoff, RATE), probe)
  ratio = np.tan(np.pi * probe / RATE) / np.tan(np.pi * cutoff / RATE)  # bilinear-transform Butterworth
  closed_form = 1 / np.sqrt(1 + (ratio if kind == "lowpass" else 1 / ratio) ** (2 * order))
  _, response = sosfreqz(butter(order, cutoff, btype=kind, fs=RATE, output="sos"), worN=[probe], fs=RATE)
  assert 20 * np.log10(gain) == pytest.approx(20 * np.log10(closed_form), abs=0.05)
  assert 20 * np.log10(gain) == pytest.approx(20 * np.log10(abs(response[0])), abs=0.05)
  assert gain < 0.5


def test_random_filters_cover_the_three_kinds():
  kinds = set()
  for seed in range(40):
    sos = random_filter_sos(np.random.default_rng(seed), [3000.0, 3000.0], [400.0, 400.0], RATE)
    _, response = sosfreqz(sos, worN=[100.0, 1100.0, 7000.0], fs=RATE)
    low, mid, high = np.abs(response)
    assert mid > 0.8 and 1 <= len(sos) <= 6
    kinds.add((low < 0.5, high < 0.5))
  assert kinds == {(False, True), (True, False), (True, True)}  # low-pass, high-pass, band-pass
  assert cutoff_bucket(3000.0) == pytest.approx(3000.0, rel=2 ** (1 / 48) - 1)


@pytest.mark.parametrize("centre, gain_db, q", [(1000.0, 9.0, 1.0), (250.0, -12.0, 0.7), (5000.0, 4.0, 2.0)])
def test_peaking_eq_has_its_gain_at_the_centre_and_none_at_dc(centre, gain_db, q):
  sos = peaking_eq_sos(centre, gain_db, q, RATE)
  assert 20 * np.log10(_gain_at(sos, centre)) == pytest.approx(gain_db, abs=0.05)
  assert apply_sos(np.ones(20000, np.float32), sos)[-1] == pytest.approx(1.0, abs=1e-4)


def test_eq_and_gain_through_the_chain():
  signal = _speechlike()
  out = perturb_signal(signal, {"gain_prob": 1.0, "gain_db_range": [-6.0, -6.0]}, np.random.default_rng(0))
  np.testing.assert_allclose(out, signal * 10 ** (-6 / 20), rtol=1e-6)
  out = perturb_signal(signal, {"eq_prob": 1.0, "eq_gain_db_range": [0.0, 0.0]}, np.random.default_rng(0))
  np.testing.assert_allclose(out, signal, atol=1e-5)

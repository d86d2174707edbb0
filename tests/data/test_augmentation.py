"""Train-time augmentation checked against closed forms: resampling ratios, noise power, mask geometry."""
import numpy as np
import pytest

from open_seq2seq.data.speech2text.augmentation import perturb_signal, spec_augment, validate_augmentation


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

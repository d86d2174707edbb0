"""Train-time augmentation: speed perturbation and noise on the signal, SpecAugment masks on features."""
import fractions

import numpy as np
from scipy.signal import resample_poly

SIGNAL_KEYS = ("speed_perturbation_ratio", "noise_level_min", "noise_level_max")
MASK_KEYS = ("n_freq_mask", "width_freq_mask", "n_time_mask", "width_time_mask")


def validate_augmentation(augmentation, num_features):
  known = set(SIGNAL_KEYS + MASK_KEYS)
  unknown = set(augmentation) - known
  if unknown:
    raise ValueError("augmentation: unknown key(s) {}; expected some of {}".format(sorted(unknown), sorted(known)))
  if ("noise_level_min" in augmentation) != ("noise_level_max" in augmentation):
    raise ValueError("augmentation: noise_level_min and noise_level_max must be given together")
  if augmentation.get("width_freq_mask", 10) > num_features:
    raise ValueError("augmentation: width_freq_mask={} exceeds num_audio_features={}".format(
        augmentation["width_freq_mask"], num_features))


def perturb_signal(signal, augmentation, rng):
  """Speed perturbation (resampling, played back at the original rate) then additive noise."""
  ratio_spec = augmentation.get("speed_perturbation_ratio")
  if ratio_spec is not None:
    if isinstance(ratio_spec, (list, tuple)):
      ratio = float(ratio_spec[rng.integers(len(ratio_spec))])
    else:
      ratio = 1.0 + rng.uniform(-1.0, 1.0) * float(ratio_spec)
    if ratio > 0 and ratio != 1.0:
      fraction = fractions.Fraction(ratio).limit_denominator(100)
      signal = resample_poly(signal, fraction.numerator, fraction.denominator).astype(np.float32)
  if "noise_level_min" in augmentation:
    level_db = rng.integers(augmentation["noise_level_min"], augmentation["noise_level_max"])
    signal = signal + rng.standard_normal(signal.shape).astype(np.float32) * np.float32(10.0 ** (level_db / 20.0))
  return signal


def spec_augment(features, augmentation, rng):
  """Zeroes ``n_freq_mask`` bands of width in [0, width_freq_mask] and ``n_time_mask`` spans likewise."""
  features = features.copy()
  num_frames, num_features = features.shape
  for _ in range(augmentation.get("n_freq_mask", 0)):
    width = rng.integers(0, augmentation.get("width_freq_mask", 10) + 1)
    start = rng.integers(0, num_features - width) if num_features - width > 0 else 0
    features[:, start:start + width] = 0.0
  for _ in range(augmentation.get("n_time_mask", 0)):
    width = rng.integers(0, augmentation.get("width_time_mask", 50) + 1)
    if num_frames - width > 0:
      start = rng.integers(0, num_frames - width)
      features[start:start + width, :] = 0.0
  return features

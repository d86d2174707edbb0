"""SpecAugment: zeroed frequency bands and time spans of the features."""
from .params import setting


def spec_augment(features, augmentation, rng):
  """Zeroes ``n_freq_mask`` bands of width in [0, width_freq_mask] and ``n_time_mask`` spans likewise."""
  features = features.copy()
  num_frames, num_features = features.shape
  for _ in range(setting(augmentation, "n_freq_mask")):
    width = rng.integers(0, setting(augmentation, "width_freq_mask") + 1)
    start = rng.integers(0, num_features - width) if num_features - width > 0 else 0
    features[:, start:start + width] = 0.0
  for _ in range(setting(augmentation, "n_time_mask")):
    width = rng.integers(0, setting(augmentation, "width_time_mask") + 1)
    if num_frames - width > 0:
      start = rng.integers(0, num_frames - width)
      features[start:start + width, :] = 0.0
  return features

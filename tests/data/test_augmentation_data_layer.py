"""Augmentation inside the speech data layer: reproducible per seed (across threads too), never in eval or
infer mode, and never frozen into (or read from) the feature cache."""
import concurrent.futures
import os

import numpy as np
import pytest

from open_seq2seq.data.speech2text.audio import read_audio
from open_seq2seq.data.speech2text.feature_cache import FeatureCache
from open_seq2seq.data.speech2text.features import speech_features
from tests.data.test_speech2text_data_layer import layer, write_corpus

EVERYTHING = {"speed_perturbation_ratio": [0.9, 1.1], "reverb_prob": 1.0, "rt60_range": [0.2, 0.3], "rir_bank_size": 2,
              "noise_prob": 1.0, "babble_prob": 1.0, "babble_speakers_range": [1, 2], "noise_level_min": -60,
              "noise_level_max": -50, "telephone_prob": 1.0, "codec_prob": 1.0, "filter_prob": 1.0, "eq_prob": 1.0,
              "gain_prob": 1.0, "vtlp_prob": 1.0, "n_freq_mask": 2, "width_freq_mask": 6, "n_time_mask": 2,
              "width_time_mask": 6}
TEXTS = ["abc", "def", "ghi", "jkl"]


def _plain_features(root, index):
  """What the layer computes without augmentation, straight from the file."""
  signal = read_audio(os.path.join(root, "audio", "utt{}.wav".format(index)), 16000)
  return speech_features(signal, 16000, 64, norm_per_feature=True)


@pytest.fixture(name="manifest")
def _manifest(tmp_path):
  return write_corpus(str(tmp_path), TEXTS)


def test_same_seed_same_features_in_any_thread_other_seed_differs(manifest):
  first = layer(manifest, mode="train", augmentation=EVERYTHING, dither=1e-5)
  again = layer(manifest, mode="train", augmentation=EVERYTHING, dither=1e-5)
  jobs = [(index, seed) for seed in (11, 12, 13) for index in range(len(TEXTS))]
  sequential = [first.features_of(index, seed) for index, seed in jobs]
  with concurrent.futures.ThreadPoolExecutor(4) as pool:
    threaded = list(pool.map(lambda job: again.features_of(*job), jobs))
  for (features, duration), (other, other_duration) in zip(sequential, threaded):
    np.testing.assert_array_equal(features, other)
    assert duration == other_duration
  for index in range(len(TEXTS)):
    a, b = sequential[index][0], sequential[len(TEXTS) + index][0]
    assert a.shape != b.shape or not np.array_equal(a, b)
    assert a.shape != _plain_features(os.path.dirname(manifest), index).shape or not np.allclose(
        a, _plain_features(os.path.dirname(manifest), index), atol=1e-3)


@pytest.mark.parametrize("mode", ["eval", "infer"])
def test_eval_and_infer_never_augment(manifest, mode):
  data_layer = layer(manifest, mode=mode, augmentation=EVERYTHING, dither=1e-5)
  for index in range(len(TEXTS)):
    features, _ = data_layer.features_of(index, seed=index + 3)
    np.testing.assert_array_equal(features, _plain_features(os.path.dirname(manifest), index))


def _cache_entries(data_layer, cache_dir, root):
  cache = FeatureCache(cache_dir, data_layer.params, "npy")
  paths = [cache.entry_path(os.path.join(root, "audio", "utt{}.wav".format(i))) for i in range(len(TEXTS))]
  return [np.load(path) if os.path.exists(path) else None for path in paths]


def test_feature_cache_holds_only_unaugmented_features(manifest, tmp_path):
  root, cache_dir = os.path.dirname(manifest), str(tmp_path / "cache")
  options = dict(cache_features=True, cache_format="npy", cache_dir=cache_dir, augmentation=EVERYTHING)
  evaluation = layer(manifest, **options)
  for index in range(len(TEXTS)):
    evaluation.features_of(index, seed=0)
  cached = _cache_entries(evaluation, cache_dir, root)
  for index, entry in enumerate(cached):
    np.testing.assert_array_equal(entry, _plain_features(root, index))
  training = layer(manifest, mode="train", **options)
  for index in range(len(TEXTS)):
    features, _ = training.features_of(index, seed=5)
    assert features.shape != cached[index].shape or not np.allclose(features, cached[index], atol=1e-3)
  for before, after in zip(cached, _cache_entries(training, cache_dir, root)):
    np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("augmentation, cached", [({"n_time_mask": 2, "width_time_mask": 5}, True),
                                                  ({"vtlp_prob": 1.0}, False), ({"noise_prob": 1.0}, False),
                                                  ({"codec_prob": 1.0}, False)])
def test_training_reads_are_augmented_and_the_cache_is_not(manifest, tmp_path, augmentation, cached):
  root, cache_dir = os.path.dirname(manifest), str(tmp_path / "cache")
  training = layer(manifest, mode="train", cache_features=True, cache_format="npy", cache_dir=cache_dir,
                   augmentation=augmentation)
  for index in range(len(TEXTS)):
    features, _ = training.features_of(index, seed=1)
    plain = _plain_features(root, index)
    assert features.shape == plain.shape and not np.array_equal(features, plain)
  for index, entry in enumerate(_cache_entries(training, cache_dir, root)):
    if cached:  # SpecAugment runs on every read of unaugmented cached features
      np.testing.assert_array_equal(entry, _plain_features(root, index))
    else:  # signal-level augmentation (VTLP included) bypasses the cache
      assert entry is None

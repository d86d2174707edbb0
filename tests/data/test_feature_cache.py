"""Feature cache: hits return identical arrays without reading audio, changed parameters miss,
regeneration recomputes once, and broken or interrupted entries are never used."""
import os

import numpy as np
import pytest
import soundfile as sf

from open_seq2seq.data.speech2text.speech2text import Speech2TextDataLayer

VOCAB = os.path.join(os.path.dirname(__file__), "..", "..", "open_seq2seq", "test_utils", "toy_speech_data",
                     "vocab.txt")


def make_manifest(root):
  rng = np.random.default_rng(3)
  path = os.path.join(root, "a.wav")
  sf.write(path, (rng.standard_normal(8000) * 2000).astype(np.int16), 16000, subtype="PCM_16")
  manifest = os.path.join(root, "m.csv")
  with open(manifest, "w") as handle:
    handle.write("wav_filename,wav_filesize,transcript\na.wav,{},hello\n".format(os.path.getsize(path)))
  return manifest, path


def layer(manifest, cache_dir, **extra):
  params = {"mode": "eval", "num_audio_features": 64, "input_type": "logfbank", "vocab_file": VOCAB,
            "backend": "librosa",
            "dataset_files": [manifest], "batch_size": 1, "norm_per_feature": True, "cache_features": True,
            "cache_dir": cache_dir}
  params.update(extra)
  return Speech2TextDataLayer(params, None)


def entries(directory):
  return sorted(name for _, _, files in os.walk(directory) for name in files if name != "feature_params.json")


@pytest.mark.parametrize("cache_format", ["npy", "npz", "hdf5"])
def test_hit_returns_identical_features_without_audio(tmp_path, cache_format):
  manifest, audio = make_manifest(str(tmp_path))
  cache_dir = str(tmp_path / "cache")
  computed, duration = layer(manifest, cache_dir, cache_format=cache_format).features_of(0, seed=0)
  assert len(entries(cache_dir)) == 1
  times = os.stat(audio)
  with open(audio, "r+b") as handle:  # corrupt the samples, keep the header: a hit must not read them
    handle.seek(44)
    handle.write(b"\x7f" * 16000)
  os.utime(audio, ns=(times.st_atime_ns, times.st_mtime_ns))  # same size and mtime: the same entry
  cached, cached_duration = layer(manifest, cache_dir, cache_format=cache_format).features_of(0, seed=0)
  np.testing.assert_array_equal(cached, computed)
  assert cached_duration == pytest.approx(duration)


def test_audio_replaced_under_the_same_name_misses(tmp_path):
  manifest, audio = make_manifest(str(tmp_path))
  cache_dir = str(tmp_path / "cache")
  before = layer(manifest, cache_dir).features_of(0, seed=0)[0]
  replacement = (np.random.default_rng(4).standard_normal(8000) * 2000).astype(np.int16)
  sf.write(audio, replacement, 16000, subtype="PCM_16")
  os.utime(audio, ns=(os.stat(audio).st_atime_ns, os.stat(audio).st_mtime_ns + 10**9))
  after = layer(manifest, cache_dir).features_of(0, seed=0)[0]
  uncached = layer(manifest, cache_dir, cache_features=False).features_of(0, seed=0)[0]
  assert not np.allclose(before, after)
  np.testing.assert_array_equal(after, uncached)
  assert len(entries(cache_dir)) == 2


def test_changed_parameter_misses(tmp_path):
  manifest, _ = make_manifest(str(tmp_path))
  cache_dir = str(tmp_path / "cache")
  per_feature = layer(manifest, cache_dir).features_of(0, seed=0)[0]
  global_norm = layer(manifest, cache_dir, norm_per_feature=False).features_of(0, seed=0)[0]
  assert not np.allclose(per_feature, global_norm)
  assert len(os.listdir(cache_dir)) == 2 and len(entries(cache_dir)) == 2


def test_regenerate_recomputes_and_broken_entries_are_replaced(tmp_path):
  manifest, _ = make_manifest(str(tmp_path))
  cache_dir = str(tmp_path / "cache")
  data_layer = layer(manifest, cache_dir, cache_format="npy")
  expected = data_layer.features_of(0, seed=0)[0]
  entry = data_layer._cache.entry_path(data_layer._rows[0].path)
  np.save(entry, np.zeros((3, 64), np.float32))
  regenerated = layer(manifest, cache_dir, cache_format="npy", cache_regenerate=True)
  np.testing.assert_array_equal(regenerated.features_of(0, seed=0)[0], expected)
  with open(entry, "wb") as handle:
    handle.write(b"truncated")
  np.testing.assert_array_equal(layer(manifest, cache_dir, cache_format="npy").features_of(0, seed=0)[0], expected)
  np.testing.assert_array_equal(np.load(entry), expected)


def test_signal_augmentation_bypasses_the_cache(tmp_path):
  manifest, _ = make_manifest(str(tmp_path))
  cache_dir = str(tmp_path / "cache")
  data_layer = layer(manifest, cache_dir, mode="train", shuffle=True,
                     augmentation={"speed_perturbation_ratio": [1.1]})
  features, _ = data_layer.features_of(0, seed=0)
  assert features.shape[0] == 1 + 8800 // 160
  assert entries(cache_dir) == []

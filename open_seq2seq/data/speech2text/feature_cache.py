"""On-disk cache of deterministic speech features (before dither and augmentation).

Entries live in ``<cache_dir>/<key>/`` where the key hashes every parameter that changes the features, so a
changed parameter can never read stale features; an entry's name hashes the audio file's path, size and
modification time, so a file replaced under the same name is read again; each entry is written atomically, so
an interrupted run never leaves a truncated file under an entry's name. SpecAugment still runs on every read, and every
augmentation before it (signal-level keys and VTLP) bypasses the cache, so augmentation is never frozen.
"""
import hashlib
import json
import os
import threading

import h5py
import numpy as np

from open_seq2seq.utils.atomic import atomic_output
from open_seq2seq.utils.logging import deco_print

FEATURE_PARAMS = ("input_type", "backend", "num_audio_features", "window_size", "window_stride", "window",
                  "sample_freq", "norm_per_feature", "norm_epsilon", "gain", "resample_audio", "mix_to_mono")
FORMATS = ("hdf5", "npy", "npz")
# 2: entries keyed by size and mtime too; float/24/32-bit audio no longer read as int16 (version 1 held
# features of such files truncated to {-1, 0, 1}). 3: the librosa power spectrum with the reference's float64
# window product, psf's int16 signal with its reciprocal gain (features moved by up to 1.2e-3).
_LAYOUT_VERSION = 3


class FeatureCache:
  """On-disk cache of per-utterance features (hdf5, npy or npz), in a folder named by a hash of the feature
  parameters; entries are keyed by the audio file's absolute path, size and mtime. Raises ValueError for an unknown
  ``cache_format``. With ``regenerate``, entries not written in this run are not loaded."""

  def __init__(self, cache_dir, params, cache_format="hdf5", regenerate=False):
    if cache_format not in FORMATS:
      raise ValueError("cache_format must be one of {}, got {!r}".format(FORMATS, cache_format))
    described = {name: params.get(name) for name in FEATURE_PARAMS}
    if params.get("backend") == "psf":
      described["pad_to"] = params.get("pad_to")
    described["layout_version"] = _LAYOUT_VERSION
    text = json.dumps(described, sort_keys=True)
    self.directory = os.path.join(cache_dir, hashlib.sha1(text.encode()).hexdigest()[:16])
    os.makedirs(self.directory, exist_ok=True)
    description = os.path.join(self.directory, "feature_params.json")
    if not os.path.exists(description):
      with atomic_output(description) as tmp, open(tmp, "w") as handle:
        handle.write(text + "\n")
    self._format = cache_format
    self._regenerate = regenerate
    self._regenerated = set()
    self._lock = threading.Lock()

  def entry_path(self, audio_path):
    """Entry of ``audio_path`` as it is now on disk; raises ValueError when the file cannot be stat'ed."""
    try:
      stat = os.stat(audio_path)
    except OSError as error:
      raise ValueError("Cannot read audio file {}: {}".format(audio_path, error)) from error
    identity = "{}\0{}\0{}".format(os.path.abspath(audio_path), stat.st_size, stat.st_mtime_ns)
    name = hashlib.sha1(identity.encode()).hexdigest()
    return os.path.join(self.directory, "{}.{}".format(name, self._format))

  def load(self, audio_path):
    """Cached features of ``audio_path`` or None (absent, to be regenerated this run, or unreadable)."""
    path = self.entry_path(audio_path)
    if self._regenerate:
      with self._lock:
        if path not in self._regenerated:
          return None
    if not os.path.exists(path):
      return None
    try:
      if self._format == "hdf5":
        with h5py.File(path, "r") as archive:
          return archive["features"][:]
      if self._format == "npz":
        with np.load(path) as archive:
          return archive["features"]
      return np.load(path)
    except (OSError, ValueError, KeyError, EOFError) as error:
      deco_print("Warning: unreadable feature cache entry {} for {} ({}); recomputing".format(path, audio_path, error))
      return None

  def save(self, audio_path, features):
    """Writes ``features`` as the entry of ``audio_path`` atomically (raises ValueError as entry_path does)."""
    path = self.entry_path(audio_path)
    with atomic_output(path) as tmp:
      if self._format == "hdf5":
        with h5py.File(tmp, "w") as archive:
          archive.create_dataset("features", data=features)
      else:
        with open(tmp, "wb") as handle:
          if self._format == "npz":
            np.savez_compressed(handle, features=features)
          else:
            np.save(handle, features)
    if self._regenerate:
      with self._lock:
        self._regenerated.add(path)

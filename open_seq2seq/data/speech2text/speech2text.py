"""LibriSpeech-style speech data layer: CSV manifests -> log-mel features -> padded tf.data batches."""
import os
import threading

import numpy as np
import tensorflow.compat.v1 as tf

from open_seq2seq.data.data_layer import DataLayer
from open_seq2seq.data.vocab import load_vocab
from open_seq2seq.utils.logging import deco_print
from .audio import audio_num_samples, read_audio
from .augmentation import SignalAugmenter, spec_augment, validate_augmentation
from .feature_cache import FORMATS, FeatureCache
from .features import INPUT_TYPES, speech_features
from .psf_features import psf_frame_count, psf_speech_features
from .manifest import read_manifests

DEFAULT_PAD_TO = 8


class Speech2TextDataLayer(DataLayer):
  """Train/eval elements are ``(features [T, F], T, label ids [L], L)``; infer elements carry the
  utterance's index instead of labels so predictions can be written in manifest order.

  Relative ``wav_filename`` paths are resolved against ``dataset_root`` (default: the CSV's folder).
  Static-shape mode (``max_feature_length`` frames, ``max_label_length`` characters, for devices that need
  fixed shapes): utterances over the limits are dropped (and counted) when the data layer is built, batches
  are padded to exactly those sizes, and the true lengths still travel with them for masks and CTC.
  Bad data (malformed CSV rows, missing, corrupt or empty audio, characters outside the vocabulary) raises
  an error naming the file and row; with ``skip_bad_data`` such utterances are skipped instead, and
  ``report_skipped()`` prints their count and list (at construction and at the end of each pass).
  ``length_bucket_boundaries`` (frames, train mode only) batches utterances of similar length together,
  which cuts the padded frames a training step computes on; without it batches follow the shuffled
  stream, as in the reference.
  """

  @staticmethod
  def get_required_params():
    return dict(DataLayer.get_required_params(), **{
        "num_audio_features": int,
        "input_type": list(INPUT_TYPES),
        "vocab_file": str,
        "dataset_files": list,
    })

  @staticmethod
  def get_optional_params():
    return dict(DataLayer.get_optional_params(), **{
        "backend": ["librosa", "psf"],
        "dataset_root": str,
        "augmentation": dict,
        "pad_to": int,
        "max_duration": float,
        "min_duration": float,
        "window_size": float,
        "window_stride": float,
        "window": ["hanning", "hamming", "none"],
        "sample_freq": int,
        "dither": float,
        "norm_per_feature": bool,
        "norm_epsilon": float,
        "precompute_mel_basis": bool,
        "gain": float,
        "random_seed": int,
        "num_parallel_calls": int,
        "length_bucket_boundaries": list,
        "max_feature_length": int,
        "max_label_length": int,
        "resample_audio": bool,
        "mix_to_mono": bool,
        "cache_features": bool,
        "cache_format": list(FORMATS),
        "cache_regenerate": bool,
        "cache_dir": str,
        "skip_bad_data": bool,
    })

  def __init__(self, params, model, num_workers=None, worker_id=None):
    super().__init__(params, model, num_workers, worker_id)
    p = self._params
    p.setdefault("backend", "psf")
    p.setdefault("pad_to", DEFAULT_PAD_TO)
    p.setdefault("max_duration", -1.0)
    p.setdefault("min_duration", -1.0)
    p.setdefault("window_size", 20e-3)
    p.setdefault("window_stride", 10e-3)
    p.setdefault("window", "hanning")
    p.setdefault("sample_freq", 16000)
    p.setdefault("dither", 0.0)
    p.setdefault("norm_per_feature", False)
    p.setdefault("norm_epsilon", 1e-5)
    p.setdefault("augmentation", None)
    p.setdefault("random_seed", 0)
    p.setdefault("num_parallel_calls", max(2, os.cpu_count() or 1))
    p.setdefault("resample_audio", True)
    p.setdefault("mix_to_mono", True)
    if p["backend"] == "psf" and (p["dither"] > 0 or p["norm_per_feature"]):
      deco_print("Warning: backend='psf' has no dither and always normalises globally; dither={} and "
                 "norm_per_feature={} have no effect".format(p["dither"], p["norm_per_feature"]))
    if p["augmentation"]:
      validate_augmentation(p["augmentation"], p["num_audio_features"], p["backend"], p["input_type"], p["sample_freq"])
    spectrogram_bins = int(p["sample_freq"] * p["window_size"]) // 2 + 1
    if p["input_type"] == "spectrogram" and p["num_audio_features"] > spectrogram_bins:
      raise ValueError("Speech2TextDataLayer: num_audio_features={} exceeds the {} bins of a spectrogram with "
                       "window_size={} s at sample_freq={}".format(p["num_audio_features"], spectrogram_bins,
                                                                  p["window_size"], p["sample_freq"]))
    self.params["char2idx"] = load_vocab(p["vocab_file"])
    self.params["idx2char"] = {i: c for c, i in self.params["char2idx"].items()}
    self.params["tgt_vocab_size"] = len(self.params["char2idx"]) + 1
    self._infer = p["mode"] == "infer"
    self._skip_bad_data = p.get("skip_bad_data", False)
    self.skipped = []
    self._skipped_lock = threading.Lock()
    rows = read_manifests(p["dataset_files"], p.get("dataset_root"), need_transcripts=not self._infer,
                          bad_rows=self.skipped if self._skip_bad_data else None)
    self._all_wav_filenames = [row.wav_filename for row in rows]
    manifest_position = {(row.csv_file, row.row_number): position for position, row in enumerate(rows)}
    if p["mode"] != "train":
      rows = self._shard(rows, p["num_workers"], p["worker_id"])
    rows = self._without_missing_audio(rows)
    labels = None
    if not self._infer:
      encoded = [self._encode(row) for row in rows]
      rows = [row for row, ids in zip(rows, encoded) if ids is not None]
      labels = [ids for ids in encoded if ids is not None]
    if not rows:
      raise ValueError("dataset_files {} hold no usable utterances".format(p["dataset_files"]))
    self._labels = labels
    self.report_skipped()
    if p.get("max_feature_length", -1) > 0 or p.get("max_label_length", -1) > 0:
      rows, self._labels = self._apply_static_limits(rows, self._labels)
    self._rows = rows
    self._manifest_positions = [manifest_position[row.csv_file, row.row_number] for row in rows]
    data_folder = os.path.dirname(os.path.abspath(p["dataset_files"][0]))
    self._augmenter = SignalAugmenter(p["augmentation"], p["sample_freq"], [row.path for row in rows], self._read,
                                      os.path.join(data_folder, "rir_cache")) if p["mode"] == "train" else None
    self._cache = None
    if p.get("cache_features", False):
      cache_dir = p.get("cache_dir") or os.path.join(data_folder, "feature_cache")
      self._cache = FeatureCache(cache_dir, p, p.get("cache_format", "hdf5"), p.get("cache_regenerate", False))
    self._dataset = self._iterator = self._input_tensors = None

  def _apply_static_limits(self, rows, labels):
    """Drops rows whose frame count (from the audio header) or label length exceeds the static shape."""
    p = self._params
    if p.get("length_bucket_boundaries"):
      raise ValueError("Speech2TextDataLayer: length_bucket_boundaries cannot be combined with static shapes "
                       "(max_feature_length / max_label_length)")
    max_frames, max_labels = p.get("max_feature_length", -1), p.get("max_label_length", -1)
    keep = []
    for index, row in enumerate(rows):
      frames = self._frame_count(audio_num_samples(row.path, p["sample_freq"]))
      too_long = 0 < max_frames < frames or (labels is not None and 0 < max_labels < len(labels[index]))
      if not too_long:
        keep.append(index)
    self.num_dropped_by_static_shape = len(rows) - len(keep)
    deco_print("Static shapes (max_feature_length={}, max_label_length={}) drop {} of {} utterances of {}".format(
        max_frames, max_labels, self.num_dropped_by_static_shape, len(rows), ", ".join(p["dataset_files"])))
    if not keep:
      raise ValueError("max_feature_length={} / max_label_length={} leave no utterance of {}".format(
          max_frames, max_labels, p["dataset_files"]))
    return [rows[i] for i in keep], None if labels is None else [labels[i] for i in keep]

  def _frame_count(self, num_samples):
    """Feature frames of an utterance of ``num_samples`` samples (before any batch padding)."""
    p = self._params
    hop = int(p["sample_freq"] * p["window_stride"])
    if p["backend"] == "psf":
      return psf_frame_count(num_samples, int(p["sample_freq"] * p["window_size"]), hop, p["pad_to"])
    return 1 + num_samples // hop

  @staticmethod
  def _shard(rows, num_workers, worker_id):
    size = len(rows) // num_workers
    end = len(rows) if worker_id == num_workers - 1 else (worker_id + 1) * size
    return rows[worker_id * size:end]

  def _record_bad(self, problem):
    """Raises ``problem`` or, with ``skip_bad_data``, records it."""
    if not self._skip_bad_data:
      raise ValueError(problem)
    with self._skipped_lock:
      if problem not in self.skipped:
        self.skipped.append(problem)

  def report_skipped(self):
    if self.skipped:
      deco_print("skip_bad_data: skipped {} utterance(s):".format(len(self.skipped)))
      for problem in self.skipped:
        deco_print(problem, offset=2)

  def _without_missing_audio(self, rows):
    missing = [row for row in rows if not os.path.isfile(row.path)]
    if missing and not self._skip_bad_data:
      raise ValueError("Audio file not found: {} ({} row {}); {} of {} listed files are missing".format(
          missing[0].path, missing[0].csv_file, missing[0].row_number, len(missing), len(rows)))
    for row in missing:
      self._record_bad("Audio file not found: {} ({} row {})".format(row.path, row.csv_file, row.row_number))
    return [row for row in rows if os.path.isfile(row.path)] if missing else rows

  def _encode(self, row):
    path, transcript, csv_file, row_number = row[:4]
    char2idx = self.params["char2idx"]
    ids = []
    for char in transcript:
      if char not in char2idx:
        self._record_bad("{} row {}: transcript character {!r} of {!r} is not in vocab_file {}".format(
            csv_file, row_number, char, transcript, self._params["vocab_file"]))
        return None
      ids.append(char2idx[char])
    if not ids:
      self._record_bad("{} row {}: empty transcript for {}".format(csv_file, row_number, path))
      return None
    return np.asarray(ids, dtype=np.int32)

  @property
  def wav_filenames(self):
    """``wav_filename`` of every manifest row (all workers' shards), as written in the manifest, indexed
    by ``source_ids``."""
    return self._all_wav_filenames

  def get_size_in_samples(self):
    return len(self._rows)

  def features_of(self, index, seed):
    """``(features [T, F] float32, duration in seconds)`` of manifest row ``index``."""
    p = self._params
    path = self._rows[index].path
    training = p["mode"] == "train"
    augmentation = p["augmentation"] if training else None
    rng = np.random.default_rng([int(seed) & 0x7FFFFFFF, p["random_seed"]])
    # Cached features are never augmented: anything that acts before SpecAugment (VTLP too) bypasses the cache.
    signal_augmented = training and self._augmenter.alters_signal
    if self._cache is not None and not signal_augmented:
      features = self._cache.load(path)
      if features is None:
        features = self._compute_features(self._read(path), dither=0.0, rng=rng)
        self._cache.save(path, features)
      duration = audio_num_samples(path, p["sample_freq"]) / float(p["sample_freq"])
    else:
      signal = self._read(path)
      if signal_augmented:
        # The psf pipeline augments the int16-range signal itself (noise levels are absolute there).
        peak = 1.0 if p["backend"] == "psf" else np.max(np.abs(signal)) + 1e-5
        signal = self._augmenter(signal / peak, rng, path) * peak
      vtlp_alpha = self._augmenter.vtlp_alpha(rng) if signal_augmented else 1.0
      duration = len(signal) / float(p["sample_freq"])
      features = self._compute_features(signal, p["dither"] if training else 0.0, rng, vtlp_alpha)
    if augmentation:
      features = spec_augment(features, augmentation, rng)
    return features, duration

  def _read(self, path):
    return read_audio(path, self._params["sample_freq"], self._params["resample_audio"], self._params["mix_to_mono"])

  def _compute_features(self, signal, dither, rng, vtlp_alpha=1.0):
    p = self._params
    if p["backend"] == "psf":
      return psf_speech_features(signal, p["sample_freq"], p["num_audio_features"], p["input_type"],
                                 p["window_size"], p["window_stride"], p["pad_to"], p["norm_epsilon"])
    return speech_features(
        signal, p["sample_freq"], p["num_audio_features"], p["input_type"], p["window_size"], p["window_stride"],
        p["window"], dither=dither, norm_per_feature=p["norm_per_feature"], norm_epsilon=p["norm_epsilon"],
        rng=rng, gain=p.get("gain"), vtlp_alpha=vtlp_alpha)

  def _parse(self, index, seed):
    try:
      features, duration = self.features_of(int(index), seed)
    except ValueError as error:
      row = self._rows[int(index)]
      self._record_bad("{} ({} row {})".format(error, row.csv_file, row.row_number))
      # An empty utterance is filtered out of the stream right after parsing.
      features, duration = np.zeros((0, self._params["num_audio_features"]), np.float32), 0.0
    length = np.int32(features.shape[0])
    if self._infer:
      return features, length, np.int32(self._manifest_positions[int(index)]), np.float32(duration)
    labels = self._labels[int(index)]
    return features, length, labels, np.int32(len(labels)), np.float32(duration)

  def build_graph(self):
    p = self._params
    num_rows = len(self._rows)
    dataset = tf.data.Dataset.range(num_rows)
    if p["mode"] == "train":
      if p["shuffle"]:
        dataset = dataset.shuffle(num_rows, seed=p["random_seed"], reshuffle_each_iteration=True)
      dataset = dataset.repeat()
    dataset = tf.data.Dataset.zip((dataset, tf.data.Dataset.random(seed=p["random_seed"])))
    if self._infer:
      out_types = [tf.float32, tf.int32, tf.int32, tf.float32]
    else:
      out_types = [tf.float32, tf.int32, tf.int32, tf.int32, tf.float32]
    num_features = p["num_audio_features"]

    def parse(index, seed):
      values = tf.numpy_function(self._parse, [index, seed], out_types, stateful=False)
      values[0].set_shape([None, num_features])
      for tensor in values[1:]:
        tensor.set_shape([None] if tensor is values[2] and not self._infer else [])
      return tuple(values)

    dataset = dataset.map(parse, num_parallel_calls=p["num_parallel_calls"])
    if self._skip_bad_data:
      dataset = dataset.filter(lambda *v: v[1] > 0)
    if p["max_duration"] > 0:
      dataset = dataset.filter(lambda *v: v[-1] <= p["max_duration"])
    if p["min_duration"] > 0:
      dataset = dataset.filter(lambda *v: v[-1] >= p["min_duration"])
    max_frames = p.get("max_feature_length", -1)
    if max_frames > 0:
      # Speed perturbation can lengthen an utterance past the limit checked on the original audio.
      dataset = dataset.filter(lambda *v: v[1] <= max_frames)
    dataset = dataset.map(lambda *v: v[:-1])
    time_size = max_frames if max_frames > 0 else None
    label_size = p.get("max_label_length", -1) if p.get("max_label_length", -1) > 0 else None
    if self._infer:
      padded_shapes = ([time_size, num_features], [], [])
    else:
      padded_shapes = ([time_size, num_features], [], [label_size], [])
    boundaries = p.get("length_bucket_boundaries")
    if boundaries and p["mode"] == "train":
      dataset = dataset.bucket_by_sequence_length(
          lambda features, length, *rest: length, boundaries, [p["batch_size"]] * (len(boundaries) + 1),
          padded_shapes=padded_shapes)
    else:
      dataset = dataset.padded_batch(p["batch_size"], padded_shapes=padded_shapes,
                                     drop_remainder=time_size is not None and p["mode"] == "train")
    dataset = dataset.prefetch(tf.data.AUTOTUNE)
    self._dataset = dataset
    self._iterator = tf.data.make_initializable_iterator(dataset)
    batch = self._iterator.get_next()
    x, x_len = batch[0], batch[1]
    pad_to = p["pad_to"]
    if pad_to > 0 and p["backend"] == "librosa":
      num_pad = (pad_to - tf.shape(x)[1] % pad_to) % pad_to
      x = tf.pad(x, [[0, 0], [0, num_pad], [0, 0]])
    dtype = self._params.get("dtype") or tf.float32
    x = tf.cast(x, dtype)
    if self._infer:
      self._input_tensors = {"source_tensors": [x, x_len], "source_ids": [batch[2]]}
    else:
      self._input_tensors = {"source_tensors": [x, x_len], "target_tensors": [batch[2], batch[3]]}

  @property
  def iterator(self):
    return self._iterator

  @property
  def input_tensors(self):
    return self._input_tensors

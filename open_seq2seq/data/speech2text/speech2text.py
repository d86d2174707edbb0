"""LibriSpeech-style speech data layer: CSV manifests -> log-mel features -> padded tf.data batches."""
import collections
import os
import threading

import numpy as np
import tensorflow.compat.v1 as tf
from threadpoolctl import threadpool_limits

from open_seq2seq.data.data_layer import DataLayer
from open_seq2seq.data.vocab import vocab_params
from open_seq2seq.utils.logging import deco_print
from open_seq2seq.utils.metrics import words
from open_seq2seq.utils.params import Inert, ListOf, Param, Range, check_params, with_defaults
from .audio import audio_num_samples, read_audio
from .augmentation import SignalAugmenter, spec_augment, validate_augmentation
from .feature_cache import FORMATS, FeatureCache
from .features import INPUT_TYPES, num_features_problem, speech_features
from .psf_features import psf_frame_count, psf_speech_features
from .manifest import read_manifests, refuse_duplicates
from .preflight import RuntimeDrops, format_counts, list_problems, runtime_drop_reason, static_limits, usable_audio

DEFAULT_PAD_TO = 8


def read_signal(path, params):
  """int16-range float32 mono samples ``[N]`` of the audio file ``path`` at ``params["sample_freq"]``, as the data
  layer reads them (audio.read_audio with its ``resample_audio`` and ``mix_to_mono``); ``params``: the data
  layer's params with their defaults. Raises ValueError naming the file (unreadable, empty, refused)."""
  return read_audio(path, params["sample_freq"], params["resample_audio"], params["mix_to_mono"])


def signal_features(signal, params, dither=0.0, rng=None, vtlp_alpha=1.0):
  """Features ``[T, F]`` float32 of a ``read_signal`` signal with the feature settings of ``params`` (``backend``,
  ``input_type``, window, normalisation, ``pad_to`` for psf); ``dither``, ``rng`` and ``vtlp_alpha`` are the
  training-time perturbations (0, None and 1 outside training)."""
  p = params
  if p["backend"] == "psf":
    return psf_speech_features(signal, p["sample_freq"], p["num_audio_features"], p["input_type"],
                               p["window_size"], p["window_stride"], p["pad_to"], p["norm_epsilon"])
  return speech_features(
      signal, p["sample_freq"], p["num_audio_features"], p["input_type"], p["window_size"], p["window_stride"],
      p["window"], dither=dither, norm_per_feature=p["norm_per_feature"], norm_epsilon=p["norm_epsilon"],
      rng=rng, gain=p["gain"], vtlp_alpha=vtlp_alpha)


def file_features(path, params):
  """``(features [T, F] float32, duration in seconds)`` of one audio file as the data layer computes them in
  eval and infer mode (no dither, no augmentation; ``features_of`` without a feature cache), for tools that
  take audio files rather than a manifest. ``params``: ``infer_feature_params``. Raises ValueError naming the
  file when it cannot be read or is refused."""
  signal = read_signal(path, params)
  return signal_features(signal, params), len(signal) / float(params["sample_freq"])


def infer_feature_params(data_layer_params):
  """The ``data_layer_params`` of a config (its infer mode, ``utils/config.py`` mode_config) checked as
  Speech2TextDataLayer checks them and filled with its declared defaults, for ``file_features``: the feature
  settings without a manifest (``dataset_files`` is set to none, the mode to infer, shuffling off). Raises
  ValueError naming the key of a missing, unknown or ill-typed parameter, or a feature count the FFT cannot
  give."""
  params = dict(data_layer_params, mode="infer", dataset_files=[], shuffle=False)
  for key in ("batch_size", "dtype", "num_workers", "worker_id"):
    params.pop(key, None)
  layer = Speech2TextDataLayer
  check_params(params, layer.get_required_params(), layer.get_optional_params(), layer.__name__,
               prefix="data_layer_params/")
  params = with_defaults(params, layer.get_optional_params())
  _check_num_features(params)
  return params


def _check_num_features(params):
  """Raises ValueError when ``num_audio_features`` asks for more than the feature settings can give."""
  problem = num_features_problem(params["backend"], params["input_type"], params["num_audio_features"],
                                 params["sample_freq"], params["window_size"])
  if problem:
    raise ValueError("Speech2TextDataLayer: data_layer_params/num_audio_features={} {}".format(
        params["num_audio_features"], problem))


class Speech2TextDataLayer(DataLayer):
  """Train/eval elements are ``(features [T, F], T, label ids [L], L)``; infer elements carry the
  utterance's index instead of labels so predictions can be written in manifest order.

  Relative ``wav_filename`` paths are resolved against ``dataset_root`` (default: the CSV's folder).
  Static-shape mode (``max_feature_length`` frames, ``max_label_length`` characters, for devices that need
  fixed shapes): utterances over the limits are dropped (and counted) when the data layer is built, batches
  are padded to exactly those sizes, and the true lengths still travel with them for masks and CTC.
  Bad data (malformed CSV rows, missing, corrupt, truncated or empty audio, a sample rate or channel count the
  config refuses, characters outside the vocabulary) raises an error naming the file and row when the layer
  is built (the audio headers are scanned then, see preflight.py); with ``skip_bad_data`` such utterances are
  skipped instead, and ``report_skipped()`` prints their count and list (at construction and after each pass).
  ``max_duration``/``min_duration`` drop utterances by their header duration when built, and again after
  speed perturbation when read. Eval/infer rows are split between ``num_workers`` in contiguous shards.
  ``length_bucket_boundaries`` (frames, train mode only) batches utterances of similar length together,
  which cuts the padded frames a training step computes on; without it batches follow the shuffled
  stream, as in the reference.
  """

  @staticmethod
  def get_required_params():
    """Adds ``num_audio_features``, ``input_type``, ``vocab_file`` and ``dataset_files``."""
    return dict(DataLayer.get_required_params(), **{
        "num_audio_features": Param(Range(int, low=1), doc="features F per frame (mel bands, cepstra or "
                                                           "frequency bins)"),
        "input_type": Param(list(INPUT_TYPES), doc="kind of features"),
        "vocab_file": Param(str, doc="the characters, one a line (vocab.py); their order gives the label ids"),
        "dataset_files": Param(list, doc="CSV manifests (wav_filename, wav_filesize, transcript), read in order"),
    })

  @staticmethod
  def get_optional_params():
    """Adds the feature, augmentation, duration-filter and input-pipeline options."""
    return dict(DataLayer.get_optional_params(), **{
        "backend": Param(["librosa", "psf"], "psf", "feature extraction: python_speech_features (the reference's "
                                                    "default) or librosa's"),
        "dataset_root": Param(str, None, "folder relative wav_filename paths start from; None: each CSV's folder"),
        "augmentation": Param(dict, None, "train-time augmentation (its keys: describe 'augmentation'); None: "
                                          "none"),
        "pad_to": Param(Range(int, low=0), DEFAULT_PAD_TO, "frames: each batch's time axis is padded to a "
                                                           "multiple of it; 0: no padding"),
        "max_duration": Param(Range(float), -1.0, "seconds: longer utterances are dropped; <= 0: no limit"),
        "min_duration": Param(Range(float), -1.0, "seconds: shorter utterances are dropped; <= 0: no limit"),
        "window_size": Param(Range(float, low=0, low_inclusive=False), 20e-3, "seconds: analysis window length"),
        "window_stride": Param(Range(float, low=0, low_inclusive=False), 10e-3, "seconds: hop between frames"),
        "window": Param(["hanning", "hamming", "none"], "hanning", "analysis window (backend librosa)"),
        "sample_freq": Param(Range(int, low=1), 16000, "Hz: audio is read at this rate"),
        "dither": Param(Range(float, low=0), 0.0, "training only: std of Gaussian noise added to the peak-"
                                                  "normalised signal (backend librosa)"),
        "norm_per_feature": Param(bool, False, "normalise each feature over the utterance's frames instead of all "
                                               "features together (backend librosa)"),
        "norm_epsilon": Param(Range(float, low=0), 1e-5, "added to the standard deviation when normalising"),
        "precompute_mel_basis": Inert(bool, "each mel filterbank is computed once and cached"),
        "gain": Param(Range(float, low=0, low_inclusive=False), None, "factor of the signal before the features; "
                                                                      "None: 1 / (max |signal| + 1e-5), peak "
                                                                      "normalisation (backend librosa)"),
        "random_seed": Param(Range(int, low=0), 0, "seed of the shuffle, dither and augmentation draws (the model "
                                                   "passes its own random_seed)"),
        "num_parallel_calls": Param(Range(int, low=1), None, "utterances read in parallel; None: max(2, CPU "
                                                             "count)"),
        "length_bucket_boundaries": Param(ListOf(Range(int, low=1)), None, "frames: train batches group "
                                                                           "utterances between consecutive "
                                                                           "boundaries; None: no buckets"),
        "max_feature_length": Param(Range(int, low=-1), -1, "frames: static-shape batches of exactly this length, "
                                                            "longer utterances dropped; -1 or 0: dynamic"),
        "max_label_length": Param(Range(int, low=-1), -1, "characters: static label length, longer transcripts "
                                                          "dropped; -1 or 0: dynamic"),
        "resample_audio": Param(bool, True, "audio at another rate is resampled to sample_freq; False: refused"),
        "mix_to_mono": Param(bool, True, "multi-channel audio is averaged to mono; False: refused"),
        "cache_features": Param(bool, False, "keep the deterministic features in an on-disk cache "
                                             "(feature_cache.py)"),
        "cache_format": Param(list(FORMATS), "hdf5", "file format of the cache entries"),
        "cache_regenerate": Param(bool, False, "recompute (and rewrite) every cache entry once in this run"),
        "cache_dir": Param(str, None, "cache folder; None: feature_cache/ beside the first dataset file"),
        "skip_bad_data": Param(bool, False, "skip and list unreadable rows, audio and transcripts instead of "
                                            "raising an error"),
    })

  def __init__(self, params, model, num_workers=None, worker_id=None):
    super().__init__(params, model, num_workers, worker_id)
    p = self._params
    if p["num_parallel_calls"] is None:
      p["num_parallel_calls"] = max(2, os.cpu_count() or 1)
    if p["backend"] == "psf" and (p["dither"] > 0 or p["norm_per_feature"]):
      deco_print("Warning: backend='psf' has no dither and always normalises globally; dither={} and "
                 "norm_per_feature={} have no effect".format(p["dither"], p["norm_per_feature"]))
    if p["augmentation"]:
      validate_augmentation(p["augmentation"], p["num_audio_features"], p["backend"], p["input_type"], p["sample_freq"])
    _check_num_features(p)
    p.update(vocab_params(p["vocab_file"]))
    self._infer = p["mode"] == "infer"
    self._skip_bad_data = p["skip_bad_data"]
    self.skipped = []
    self._skipped_lock = threading.Lock()
    self._input_error = None
    self._drops = RuntimeDrops(p["dataset_files"])
    rows = read_manifests(p["dataset_files"], p["dataset_root"], need_transcripts=not self._infer,
                          bad_rows=self.skipped if self._skip_bad_data else None)
    if p["mode"] != "train":
      refuse_duplicates(rows)
    self._all_wav_filenames = [row.wav_filename for row in rows]
    manifest_position = {(row.csv_file, row.row_number): position for position, row in enumerate(rows)}
    usable, labels, num_samples = self._usable_rows(rows)
    self.report_skipped()
    if p["max_feature_length"] > 0 or p["max_label_length"] > 0:
      usable, labels = static_limits(usable, labels, [self._frame_count(n) for n in num_samples], p)
      self.num_dropped_by_static_shape = len(num_samples) - len(usable)
    if p["mode"] != "train":
      # Every worker filtered the same rows, so the shards partition exactly the usable utterances.
      usable, labels = self._shard(usable, labels, p["num_workers"], p["worker_id"])
    self._rows, self._labels = usable, labels
    self._manifest_positions = [manifest_position[row.csv_file, row.row_number] for row in usable]
    data_folder = os.path.dirname(os.path.abspath(p["dataset_files"][0]))
    self._augmenter = SignalAugmenter(p["augmentation"], p["sample_freq"], [row.path for row in usable], self._read,
                                      os.path.join(data_folder, "rir_cache")) if p["mode"] == "train" else None
    self._cache = None
    if p["cache_features"]:
      cache_dir = p["cache_dir"] or os.path.join(data_folder, "feature_cache")
      self._cache = FeatureCache(cache_dir, p, p["cache_format"], p["cache_regenerate"])
    self._dataset = None

  def _usable_rows(self, rows):
    """``(rows, label ids or None in infer mode, samples at sample_freq)`` of the rows whose audio passes the
    pre-flight scan and the duration limits and whose transcript encodes. Raises ValueError naming the
    manifests and the count per reason when no row is left."""
    counts = collections.Counter(malformed_row=len(self.skipped))
    usable, num_samples, bad_audio, audio_counts = usable_audio(rows, self._params, self._skip_bad_data)
    self.skipped.extend(bad_audio)
    counts.update(audio_counts)
    labels = None
    if not self._infer:
      encoded = [self._encode(row) for row in usable]
      counts["transcript"] = sum(ids is None for ids in encoded)
      usable, num_samples = [[x for x, ids in zip(xs, encoded) if ids is not None] for xs in (usable, num_samples)]
      labels = [ids for ids in encoded if ids is not None]
    if not usable:
      self.report_skipped()
      total = len(rows) + counts["malformed_row"]
      if not total:
        raise ValueError("dataset_files {} list no utterances: a header and no rows".format(
            ", ".join(self._params["dataset_files"])))
      raise ValueError("dataset_files {} hold no usable utterances: all {} rows were dropped ({})".format(
          ", ".join(self._params["dataset_files"]), total, format_counts(counts)))
    return usable, labels, num_samples

  def _frame_count(self, num_samples):
    """Feature frames of an utterance of ``num_samples`` samples (before any batch padding)."""
    p = self._params
    hop = int(p["sample_freq"] * p["window_stride"])
    if p["backend"] == "psf":
      return psf_frame_count(num_samples, int(p["sample_freq"] * p["window_size"]), hop, p["pad_to"])
    return 1 + num_samples // hop

  @staticmethod
  def _shard(rows, labels, num_workers, worker_id):
    """Worker k of W takes rows [k * N // W, (k + 1) * N // W): contiguous, in manifest order, sizes differing
    by at most one; with fewer rows than workers some shards are empty."""
    begin, end = worker_id * len(rows) // num_workers, (worker_id + 1) * len(rows) // num_workers
    return rows[begin:end], None if labels is None else labels[begin:end]

  def _record_bad(self, problem):
    """Raises ``problem`` or, with ``skip_bad_data``, records it."""
    if not self._skip_bad_data:
      raise ValueError(problem)
    with self._skipped_lock:
      if problem not in self.skipped:
        self.skipped.append(problem)

  def report_skipped(self):
    """Prints the utterances skipped with ``skip_bad_data``, if any."""
    if self.skipped:
      deco_print("skip_bad_data: skipped {} utterance(s):".format(len(self.skipped)))
      list_problems(self.skipped)

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
    # A blank transcript would score any hypothesis against zero reference words (WER 0 or undefined).
    if not words(transcript):
      self._record_bad("{} row {}: empty transcript ({!r}, no words) for {}".format(csv_file, row_number, transcript,
                                                                                   path))
      return None
    return np.asarray(ids, dtype=np.int32)

  @property
  def wav_filenames(self):
    """``wav_filename`` of every manifest row (all workers' shards), as written in the manifest, indexed
    by ``source_ids``."""
    return self._all_wav_filenames

  def get_size_in_samples(self):
    """Number of utterances (manifest rows kept) in one pass."""
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
    return read_signal(path, self._params)

  def _compute_features(self, signal, dither, rng, vtlp_alpha=1.0):
    return signal_features(signal, self._params, dither, rng, vtlp_alpha)

  def _parse(self, index, seed):
    try:
      return self._element(int(index), seed)
    except ValueError as error:
      # TensorFlow buries this in a trace of its own: input_error() hands the caller the error itself.
      self._input_error = self._input_error or error
      raise

  def _element(self, index, seed):
    """The element of row ``index`` plus a keep flag; False drops it (a file that fails only when decoded, with
    skip_bad_data, or a speed-perturbed length outside the limits)."""
    p = self._params
    try:
      features, duration = self.features_of(index, seed)
      drop = runtime_drop_reason(features.shape[0], duration, p)
    except ValueError as error:
      row = self._rows[index]
      self._record_bad("{} ({} row {})".format(error, row.csv_file, row.row_number))
      features, drop = np.zeros((0, p["num_audio_features"]), np.float32), "unreadable"
    self._drops.note(drop, len(self._rows))
    length, keep = np.int32(features.shape[0]), np.bool_(drop is None)
    if self._infer:
      return features, length, np.int32(self._manifest_positions[index]), keep
    return features, length, self._labels[index], np.int32(len(self._labels[index])), keep

  def input_error(self):
    """The ValueError that stopped the input stream (bad audio, nothing left to read), or None."""
    return self._input_error

  def build_graph(self):
    """Builds the tf.data pipeline (shuffle and repeat in train mode, features computed in numpy, padded or
    length-bucketed batches) and sets ``input_tensors``: features ``[B, T, F]`` and lengths ``[B]``, plus labels
    ``[B, L]`` and label lengths ``[B]`` (or ``source_ids`` in infer mode). Limits numpy's BLAS to one thread in
    the whole process."""
    p = self._params
    # The map below already computes num_parallel_calls utterances side by side; OpenBLAS's own threads on top
    # (the mel filterbank product) spin on the cores the model runs on: one BLAS thread halved the pipeline's
    # CPU time per utterance and made the main job's training step about 15 % faster.
    threadpool_limits(limits=1, user_api="blas")
    num_rows = len(self._rows)
    dataset = tf.data.Dataset.range(num_rows)
    if p["mode"] == "train":
      if p["shuffle"]:
        dataset = dataset.shuffle(num_rows, seed=p["random_seed"], reshuffle_each_iteration=True)
      dataset = dataset.repeat()
    dataset = tf.data.Dataset.zip((dataset, tf.data.Dataset.random(seed=p["random_seed"])))
    if self._infer:
      out_types = [tf.float32, tf.int32, tf.int32, tf.bool]
    else:
      out_types = [tf.float32, tf.int32, tf.int32, tf.int32, tf.bool]
    num_features = p["num_audio_features"]

    def parse(index, seed):
      """Features, lengths and labels (or ids) of row ``index`` computed by ``_parse``, with their static shapes
      set; the last value says whether to keep the row."""
      values = tf.numpy_function(self._parse, [index, seed], out_types, stateful=False)
      values[0].set_shape([None, num_features])
      for tensor in values[1:]:
        tensor.set_shape([None] if tensor is values[2] and not self._infer else [])
      return tuple(values)

    dataset = dataset.map(parse, num_parallel_calls=p["num_parallel_calls"])
    dataset = dataset.filter(lambda *v: v[-1]).map(lambda *v: v[:-1])
    time_size = p["max_feature_length"] if p["max_feature_length"] > 0 else None
    label_size = p["max_label_length"] if p["max_label_length"] > 0 else None
    if self._infer:
      padded_shapes = ([time_size, num_features], [], [])
    else:
      padded_shapes = ([time_size, num_features], [], [label_size], [])
    boundaries = p["length_bucket_boundaries"]
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
    x = tf.cast(x, p["dtype"])
    if self._infer:
      self._input_tensors = {"source_tensors": [x, x_len], "source_ids": [batch[2]]}
    else:
      self._input_tensors = {"source_tensors": [x, x_len], "target_tensors": [batch[2], batch[3]]}


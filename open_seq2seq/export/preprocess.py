"""Pre-processing: a manifest -> one features file and one length file per utterance, with exactly the
features the model sees in eval/infer mode (the config's data layer, no dither, no augmentation).

Layout under ``source_dir``: ``features/<name>.bin`` (float32 ``[frames, F]``), ``features_length/<name>.bin``
(int32 ``[1]``) and ``utterances.csv`` (``name,wav_filename,duration``, manifest order, written last, so a
pre-processing that did not finish leaves no index). ``<name>`` is the audio file name without extension.
The caller gives a fresh ``source_dir`` (jasper_online_inference.py stages it, see staging.py), so a failed
pre-processing never touches the features of an earlier one.
"""
import csv
import os

from open_seq2seq.data.speech2text.speech2text import Speech2TextDataLayer
from open_seq2seq.utils.atomic import atomic_output
from open_seq2seq.utils.config import mode_config
from open_seq2seq.utils.parallel import bounded_parallel_map
from open_seq2seq.export.bin_files import FEATURES_DTYPE, LENGTH_DTYPE, read_bin, write_bin

FEATURES_DIR = "features"
LENGTHS_DIR = "features_length"
INDEX_FILE = "utterances.csv"
INDEX_COLUMNS = ["name", "wav_filename", "duration"]
# Data-layer options that drop, reorder or alter utterances; pre-processing keeps every row as it is.
DROPPED_OPTIONS = ("max_feature_length", "max_label_length", "length_bucket_boundaries", "augmentation",
                   "skip_bad_data", "num_workers", "worker_id")


def feature_data_layer(config_module, manifest):
  """The config's infer-mode data layer reading ``manifest``, used only for its per-utterance features.

  Raises ValueError naming the bad rows when the data layer's check of the manifest fails.
  """
  params = dict(mode_config(config_module, "infer")["data_layer_params"])
  for option in DROPPED_OPTIONS:
    params.pop(option, None)
  params.update(mode="infer", dataset_files=[manifest], shuffle=False)
  return Speech2TextDataLayer(params, model=None)


def utterance_names(manifest, wav_filenames):
  """File names of the utterances: the audio file names without extension, which must be unique.

  Raises ValueError naming the two manifest rows (numbered as file lines, the header being 1) of a repeated name.
  """
  names, first_row = [], {}
  for row, wav_filename in enumerate(wav_filenames, start=2):
    name = os.path.splitext(os.path.basename(wav_filename))[0]
    if name in first_row:
      raise ValueError("{}: rows {} and {} have the same audio file name {!r}; pre-processing names its files "
                       "after it".format(manifest, first_row[name], row, name))
    first_row[name] = row
    names.append(name)
  return names


def preprocess(config_module, manifest, source_dir, workers):
  """Writes the features of every utterance of ``manifest`` under ``source_dir`` (created here, so it must
  not exist yet); returns the utterance count. The data layer first checks every row (manifest fields, audio
  header, sample rate and channels against the config) and raises ValueError naming the bad rows."""
  data_layer = feature_data_layer(config_module, manifest)
  wav_filenames = data_layer.wav_filenames
  names = utterance_names(manifest, wav_filenames)
  for sub_dir in (FEATURES_DIR, LENGTHS_DIR):
    os.makedirs(os.path.join(source_dir, sub_dir))
  index_file = os.path.join(source_dir, INDEX_FILE)

  def featurize(index):
    """Writes the features and length of utterance ``index`` as .bin files; returns ``(index, duration)``. Raises
    ValueError naming the manifest and file when its features cannot be computed."""
    try:
      features, duration = data_layer.features_of(index, seed=0)
    except ValueError as error:
      raise ValueError("{}: {}: {}".format(manifest, wav_filenames[index], error)) from error
    write_bin(os.path.join(source_dir, FEATURES_DIR, names[index] + ".bin"), features, FEATURES_DTYPE)
    write_bin(os.path.join(source_dir, LENGTHS_DIR, names[index] + ".bin"), [len(features)], LENGTH_DTYPE)
    return index, duration

  durations = dict(bounded_parallel_map(featurize, range(len(names)), workers))
  with atomic_output(index_file) as tmp_file, open(tmp_file, "w", newline="", encoding="utf-8") as handle:
    writer = csv.writer(handle)
    writer.writerow(INDEX_COLUMNS)
    for index, name in enumerate(names):
      writer.writerow([name, wav_filenames[index], repr(durations[index])])
  return len(names)


def read_index(source_dir):
  """``(names, wav_filenames, durations)`` of a pre-processed set, in manifest order; durations in seconds.

  Raises IOError when the index is missing (pre-processing not done), ValueError when its columns differ.
  """
  index_file = os.path.join(source_dir, INDEX_FILE)
  if not os.path.isfile(index_file):
    raise IOError("{} not found: pre-process the manifest first (--pre_process=True)".format(index_file))
  with open(index_file, newline="", encoding="utf-8") as handle:
    reader = csv.DictReader(handle)
    if reader.fieldnames != INDEX_COLUMNS:
      raise ValueError("{}: expected columns {}, got {}".format(index_file, INDEX_COLUMNS, reader.fieldnames))
    rows = list(reader)
  return [r["name"] for r in rows], [r["wav_filename"] for r in rows], [float(r["duration"]) for r in rows]


def read_utterance(source_dir, name, num_features):
  """Float32 features ``[frames, num_features]`` of utterance ``name``, checked against its length file.

  Raises IOError / ValueError as bin_files.read_bin does, for either file.
  """
  length = read_bin(os.path.join(source_dir, LENGTHS_DIR, name + ".bin"), LENGTH_DTYPE, [1])[0]
  return read_bin(os.path.join(source_dir, FEATURES_DIR, name + ".bin"), FEATURES_DTYPE, [int(length), num_features])

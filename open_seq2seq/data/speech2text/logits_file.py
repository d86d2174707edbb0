"""The logits file that ``run.py --mode=infer --decoder_params/infer_logits_to_pickle=True`` writes and
scripts/decode.py reads (docs/logits_format.md).

It is a NumPy ``.npz`` archive (a zip of ``.npy`` arrays) that needs no unpickling to read, so a crafted file
cannot run code: ``logits_<i>`` holds utterance i's ``[T', V+1]`` float32 logits (valid frames only, blank last) and
``index`` a UTF-8 JSON document as a uint8 array::

    {"format": "jasper-ctc-logits", "version": 1, "wav_filenames": [...manifest order...],
     "step_size": seconds per logit frame, "vocab": [the V characters, by index]}

The config key keeps OpenSeq2Seq's name ``infer_logits_to_pickle``; the format is recognised by content, so
the file may have any name. The reference's pickle (``{"logits": {wav: array}, "step_size", "vocab":
{i: char}}``) is read only on request (``trust_pickle``), because unpickling executes whatever the file says.
"""
import collections
import json
import math
import pickle
import zipfile
import zlib

import numpy as np

from open_seq2seq.utils.files import refuse_special_file
from open_seq2seq.utils.atomic import atomic_output

FORMAT_NAME = "jasper-ctc-logits"
FORMAT_VERSION = 1
ZIP_MAGIC = b"PK\x03\x04"

LogitsDump = collections.namedtuple("LogitsDump", ["logits", "step_size", "vocab"])
LogitsDump.__doc__ = """``logits``: {wav_filename: [T', V+1] float array} in manifest order; ``step_size``:
seconds per logit frame; ``vocab``: the V characters, by index (blank is index V)."""


class LogitsFileError(ValueError):
  """A logits file that cannot be read or does not match what the caller expects."""
  pass


def write_logits(path, wav_filenames, logits, step_size, vocab):
  """Writes the ``[T', V+1]`` arrays ``logits`` (any float type, stored as float32) of ``wav_filenames`` (same
  order) atomically to ``path``."""
  index = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "wav_filenames": list(wav_filenames),
           "step_size": float(step_size), "vocab": list(vocab)}
  # float32 holds float16 and bfloat16 exactly, and .npy has no bfloat16 type (it would be stored as raw bytes).
  arrays = {"logits_{}".format(i): np.asarray(array, dtype=np.float32) for i, array in enumerate(logits)}
  arrays["index"] = np.frombuffer(json.dumps(index).encode("utf-8"), dtype=np.uint8)
  with atomic_output(path) as tmp_file, open(tmp_file, "wb") as handle:
    np.savez(handle, **arrays)


def read_logits(path, trust_pickle=False, labels=None):
  """The LogitsDump stored in ``path``: the ``.npz`` format, or with ``trust_pickle`` the reference's pickle.
  ``labels`` (the V characters by id of the vocabulary the caller decodes with), when given, must be the
  vocabulary the file was written with, and every array must have V + 1 columns.

  Raises LogitsFileError (a ValueError) naming ``path`` for a file of neither format, a pickle without
  ``trust_pickle``, a damaged archive or one with members that are no ``.npy`` arrays, a vocabulary other than
  ``labels`` and arrays that are not ``[T', V+1]`` finite floats; ValueError for a directory, FIFO or device.
  """
  refuse_special_file(path)
  with open(path, "rb") as handle:
    magic = handle.read(len(ZIP_MAGIC))
  if magic == ZIP_MAGIC:
    dump = _read_npz(path)
  elif trust_pickle:
    dump = _read_trusted_pickle(path)
  else:
    raise LogitsFileError(
        "{}: not a logits .npz file (no zip signature). If it is a pickle from an older run.py or from "
        "OpenSeq2Seq, reading it can execute arbitrary code, so decode.py reads it only with --trust_pickle "
        "(pass it only for a file you made yourself), or re-run inference to write the .npz format".format(path))
  _check_arrays(path, dump, labels)
  return dump


def _read_members(path):
  """``{name: array}`` of the archive's ``.npy`` members; LogitsFileError for anything else in it."""
  try:
    with zipfile.ZipFile(path) as archive:
      listed = archive.namelist()
    with np.load(path, allow_pickle=False) as archive:
      members = {name: archive[name] for name in archive.files}
  except (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError, NotImplementedError) as error:
    raise LogitsFileError("{}: damaged or not a logits .npz archive ({})".format(path, error)) from None
  except MemoryError:
    raise LogitsFileError("{}: damaged .npz archive (a member's header declares an array too large to "
                          "hold)".format(path)) from None
  if len(set(listed)) != len(listed):
    # zipfile would silently read the last of two same-named members.
    raise LogitsFileError("{}: the archive holds a member twice ({})".format(
        path, sorted(name for name in set(listed) if listed.count(name) > 1)[0]))
  for name, member in members.items():
    if not isinstance(member, np.ndarray):
      # NpzFile hands back the raw bytes of a member without the .npy signature (e.g. a pickle).
      raise LogitsFileError("{}: the member {!r} is not a .npy array".format(path, name))
  return members


def _read_npz(path):
  members = _read_members(path)
  index = members.pop("index", None)
  if index is None or index.dtype != np.uint8 or index.ndim != 1:
    raise LogitsFileError("{}: no 'index' member (uint8 JSON); not written by run.py?".format(path))
  try:
    meta = json.loads(index.tobytes().decode("utf-8"))
  except (UnicodeDecodeError, ValueError, RecursionError) as error:
    raise LogitsFileError("{}: the 'index' member is not UTF-8 JSON ({})".format(path, error)) from None
  if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME or meta.get("version") != FORMAT_VERSION:
    raise LogitsFileError("{}: the index is not {} version {}".format(path, FORMAT_NAME, FORMAT_VERSION))
  names = meta.get("wav_filenames")
  if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names) \
      or len(set(names)) != len(names):
    raise LogitsFileError("{}: the index's wav_filenames must be a list of distinct, non-empty file names".format(
        path))
  expected = {"logits_{}".format(i) for i in range(len(names))}
  if set(members) != expected:
    raise LogitsFileError("{}: the index lists {} utterances, the archive holds the arrays {}".format(
        path, len(names), sorted(members)[:5] + (["..."] if len(members) > 5 else [])))
  logits = collections.OrderedDict((name, members["logits_{}".format(i)]) for i, name in enumerate(names))
  return LogitsDump(logits, meta.get("step_size"), meta.get("vocab"))


def _read_trusted_pickle(path):
  with open(path, "rb") as handle:
    try:
      stored = pickle.load(handle)
    except Exception as error:
      # Unpickling can fail in any way the file's contents choose; all of them mean a file not from run.py.
      raise LogitsFileError("{}: neither a logits .npz file nor a readable logits pickle ({})".format(
          path, error)) from None
  vocab = stored.get("vocab", {}) if isinstance(stored, dict) else None
  if not isinstance(stored, dict) or not isinstance(stored.get("logits"), dict) or not isinstance(vocab, dict) \
      or set(vocab) != set(range(len(vocab))) or not all(isinstance(name, str) and name for name in stored["logits"]):
    raise LogitsFileError("{}: expected a pickled dict with 'logits' {{wav_filename: array}} (non-empty names) and "
                          "'vocab' {{index: character}} (indices 0, 1, ...)".format(path))
  labels = [vocab[i] for i in range(len(vocab))] if "vocab" in stored else None
  logits = collections.OrderedDict()
  for name, array in stored["logits"].items():
    try:
      logits[name] = np.asarray(array)
    except ValueError as error:
      raise LogitsFileError("{}: logits of {} are not an array ({})".format(path, name, error)) from None
  return LogitsDump(logits, stored.get("step_size"), labels)


def _check_arrays(path, dump, labels):
  vocab = dump.vocab
  if vocab is not None and (not isinstance(vocab, list) or not all(isinstance(c, str) for c in vocab)):
    raise LogitsFileError("{}: the vocab must be a list of characters, got {!r}".format(path, vocab))
  if labels is not None:
    if vocab is not None and vocab != list(labels):
      raise LogitsFileError("{}: the logits were made with the vocabulary {!r}, --vocab gives {!r}".format(
          path, "".join(vocab), "".join(labels)))
    vocab = list(labels)
  step = dump.step_size
  if step is not None and (isinstance(step, bool) or not isinstance(step, (int, float)) or not math.isfinite(step)
                           or step <= 0):
    raise LogitsFileError("{}: step_size must be a positive number of seconds, got {!r}".format(path, step))
  columns = len(vocab) + 1 if vocab is not None else None
  for name, array in dump.logits.items():
    if array.ndim != 2 or (columns is not None and array.shape[1] != columns):
      raise LogitsFileError("{}: logits of {} have shape {}, expected [T, {}] (the vocabulary plus blank)".format(
          path, name, list(array.shape), columns if columns is not None else "V+1"))
    if not np.issubdtype(array.dtype, np.floating) or not np.all(np.isfinite(array)):
      raise LogitsFileError("{}: logits of {} must be finite floats (dtype {})".format(path, name, array.dtype))

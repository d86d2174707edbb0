"""The logits file of infer_logits_to_pickle: Speech2Text.finalize_inference writes a .npz that reads back
to the very arrays the model returned, in manifest order; damaged or foreign files are refused by name; a
pickle, which could run code, is read only with trust_pickle."""
import io
import json
import os
import pickle
import types
import warnings
import zipfile

import numpy as np
import pytest

from open_seq2seq.data.speech2text.logits_file import LogitsFileError, read_logits, write_logits
from open_seq2seq.models.speech2text import Speech2Text

LABELS = list(" abcdefghijklmnopqrstuvwxyz'")


class StubDataLayer:

  def __init__(self, wav_filenames):
    self.wav_filenames = wav_filenames
    self.params = {"window_stride": 0.01, "idx2char": dict(enumerate(LABELS)), "dataset_files": ["dev.csv"]}


def stub_model(wav_filenames, strides):
  model = Speech2Text.__new__(Speech2Text)  # finalize_inference needs no graph

  model._params = {"encoder_params": {"convnet_layers": [{"stride": [s], "repeat": 1} for s in strides]}}
  model._decoder = types.SimpleNamespace(params={"infer_logits_to_pickle": True})
  model.get_data_layer = lambda: StubDataLayer(wav_filenames)
  return model


def test_finalize_inference_round_trip(tmp_path):
  rng = np.random.default_rng(0)
  names = ["dev/a.wav", "dev/b, with comma.wav", "dev/ü.wav"]
  arrays = [rng.normal(size=(t, len(LABELS) + 1)).astype(np.float32) for t in (7, 1, 12)]
  # batches arrive in any order; ids are manifest rows
  batches = [([arrays[2], arrays[0]], np.array([2, 0])), ([arrays[1]], np.array([1]))]
  output = str(tmp_path / "dev_logits.pickle")  # the user's name is kept; the content is .npz
  stub_model(names, strides=[2, 1, 3]).finalize_inference(batches, output)
  dump = read_logits(output)
  assert list(dump.logits) == names and dump.vocab == LABELS
  assert dump.step_size == pytest.approx(0.01 * 2 * 1 * 3)
  for name, expected in zip(names, arrays):
    np.testing.assert_array_equal(dump.logits[name], expected)
    assert dump.logits[name].dtype == np.float32
  with np.load(output, allow_pickle=False) as archive:  # plain numpy reads it too, without unpickling
    assert json.loads(archive["index"].tobytes())["wav_filenames"] == names
    np.testing.assert_array_equal(archive["logits_1"], arrays[1])


def test_bfloat16_and_float16_logits_are_stored_exactly_as_float32(tmp_path):
  import ml_dtypes
  rng = np.random.default_rng(1)
  values = rng.normal(size=(5, len(LABELS) + 1)) * 30
  arrays = [values.astype(ml_dtypes.bfloat16), values.astype(np.float16)]
  write_logits(str(tmp_path / "l.npz"), ["a.wav", "b.wav"], arrays, 0.02, LABELS)
  dump = read_logits(str(tmp_path / "l.npz"))
  for name, array in zip(["a.wav", "b.wav"], arrays):
    assert dump.logits[name].dtype == np.float32
    np.testing.assert_array_equal(dump.logits[name], [[float(v) for v in row] for row in array])


def write_archive(path, **arrays):
  with open(path, "wb") as handle:
    np.savez(handle, **arrays)


def index_bytes(**changes):
  index = {"format": "jasper-ctc-logits", "version": 1, "wav_filenames": ["a.wav"], "step_size": 0.02,
           "vocab": LABELS}
  index.update(changes)
  return np.frombuffer(json.dumps(index).encode(), dtype=np.uint8)


GOOD = np.zeros((3, len(LABELS) + 1), dtype=np.float32)


@pytest.mark.parametrize("arrays, message", [
    ({"logits_0": GOOD}, "no 'index' member"),
    ({"index": np.frombuffer(b"{not json", dtype=np.uint8), "logits_0": GOOD}, "not UTF-8 JSON"),
    ({"index": index_bytes(format="other"), "logits_0": GOOD}, "not jasper-ctc-logits version 1"),
    ({"index": index_bytes(wav_filenames=["a.wav", "a.wav"]), "logits_0": GOOD, "logits_1": GOOD}, "distinct"),
    ({"index": index_bytes(), "logits_0": GOOD, "logits_1": GOOD}, "lists 1 utterances"),
    ({"index": index_bytes()}, "lists 1 utterances"),
    ({"index": index_bytes(), "logits_0": GOOD[:, :5]}, r"shape \[3, 5\], expected \[T, 29\]"),
    ({"index": index_bytes(), "logits_0": GOOD[None]}, r"shape \[1, 3, 29\]"),
    ({"index": index_bytes(), "logits_0": GOOD + np.nan}, "finite floats"),
    ({"index": index_bytes(), "logits_0": GOOD.astype(np.int32)}, "finite floats"),
    ({"index": index_bytes(step_size=-1), "logits_0": GOOD}, "step_size must be a positive"),
    ({"index": index_bytes(vocab="abc"), "logits_0": GOOD}, "vocab must be a list"),
    ({"index": index_bytes(step_size=True), "logits_0": GOOD}, "step_size must be a positive"),
    ({"index": index_bytes(wav_filenames=[""]), "logits_0": GOOD}, "non-empty file names"),
    ({"index": np.frombuffer(b"[" * 100000 + b"]" * 100000, dtype=np.uint8), "logits_0": GOOD}, "not UTF-8 JSON"),
])
def test_malformed_archives_are_refused(tmp_path, arrays, message):
  path = str(tmp_path / "bad.npz")
  write_archive(path, **arrays)
  with pytest.raises(LogitsFileError, match="^" + path + ": .*" + message):
    read_logits(path)


def test_damaged_archives_are_refused(tmp_path):
  path = str(tmp_path / "logits.npz")
  write_logits(path, ["a.wav"], [GOOD], 0.02, LABELS)
  data = open(path, "rb").read()
  for name, content in [("cut.npz", data[:len(data) // 2]), ("cut_head.npz", data[:10]), ("empty.npz", b"")]:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(LogitsFileError, match=str(tmp_path / name)):
      read_logits(str(tmp_path / name))
  objects = str(tmp_path / "objects.npz")
  with open(objects, "wb") as handle:  # object arrays are stored pickled inside the .npy
    np.savez(handle, index=index_bytes(), logits_0=np.array([GOOD, None], dtype=object))
  with pytest.raises(LogitsFileError, match="objects.npz: damaged or not a logits .npz archive"):
    read_logits(objects)


def npy_bytes(array):
  buffer = io.BytesIO()
  np.save(buffer, array)
  return buffer.getvalue()


@pytest.mark.parametrize("members, message", [
    # NpzFile returns a member without the .npy signature as raw bytes; a pickle stored as one must not pass.
    ([("index.npy", npy_bytes(index_bytes())), ("logits_0.npy", pickle.dumps(GOOD))],
     "the member 'logits_0' is not a .npy array"),
    ([("index.npy", b"garbage"), ("logits_0.npy", npy_bytes(GOOD))], "the member 'index' is not a .npy array"),
    # zipfile reads the last of two same-named members: which logits are meant is unknowable.
    ([("index.npy", npy_bytes(index_bytes())), ("logits_0.npy", npy_bytes(GOOD)), ("logits_0.npy", npy_bytes(GOOD))],
     r"holds a member twice \(logits_0.npy\)"),
    ([("index.npy", npy_bytes(index_bytes())),
      ("logits_0.npy", npy_bytes(GOOD).replace(b"(3, 29)", b"(99999999999999, 29)"))], "declares an array too large"),
])
def test_archives_with_foreign_members_are_refused(tmp_path, members, message):
  path = str(tmp_path / "crafted.npz")
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
    with zipfile.ZipFile(path, "w") as archive:
      for name, content in members:
        archive.writestr(name, content)
  with pytest.raises(LogitsFileError, match="^" + path + ": .*" + message):
    read_logits(path)


def test_a_fifo_or_directory_is_refused_unopened(tmp_path):
  fifo = str(tmp_path / "logits.npz")
  os.mkfifo(fifo)  # opening it would wait for a writer forever
  with pytest.raises(ValueError, match="logits.npz: a FIFO, expected a regular file"):
    read_logits(fifo)
  with pytest.raises(ValueError, match=str(tmp_path) + ": a directory, expected a regular file"):
    read_logits(str(tmp_path))


@pytest.mark.parametrize("stored, message", [
    ({"logits": {"a.wav": GOOD}, "vocab": {0: "a", "x": "b"}}, "indices 0, 1"),
    ({"logits": {"a.wav": GOOD}, "vocab": {0: "a", 2: "b"}}, "indices 0, 1"),
    ({"logits": {1: GOOD}}, "non-empty names"),
    ({"logits": {"": GOOD}}, "non-empty names"),
    ({"logits": {"a.wav": [[1.0, 2.0], [1.0]]}}, "logits of a.wav are not an array"),
])
def test_malformed_trusted_pickles_are_refused(tmp_path, stored, message):
  path = tmp_path / "bad.pickle"
  path.write_bytes(pickle.dumps(stored))
  with pytest.raises(LogitsFileError, match="^" + str(path) + ": .*" + message):
    read_logits(str(path), trust_pickle=True)


class CreatesAFile:
  """Unpickling this calls open(path, "w"): the file's existence shows that the pickle ran code."""

  def __init__(self, path):
    self.path = path

  def __reduce__(self):
    return open, (self.path, "w")


def test_a_crafted_pickle_is_not_run_without_trust_pickle(tmp_path):
  marker = str(tmp_path / "created_by_the_pickle")
  crafted = tmp_path / "logits.pickle"
  crafted.write_bytes(pickle.dumps({"logits": {"a.wav": CreatesAFile(marker)}}))
  with pytest.raises(LogitsFileError, match="logits.pickle: not a logits .npz file.*--trust_pickle"):
    read_logits(str(crafted))
  assert not os.path.exists(marker)
  # the flag is what stands between the file and its code
  with pytest.raises(LogitsFileError):
    read_logits(str(crafted), trust_pickle=True)
  assert os.path.exists(marker)


def test_reference_pickle_is_read_with_trust_pickle(tmp_path):
  arrays = {"b.wav": GOOD + 1, "a.wav": GOOD - 1}
  path = tmp_path / "reference.pickle"
  buffer = io.BytesIO()
  pickle.dump({"logits": arrays, "step_size": 0.02, "vocab": dict(enumerate(LABELS))}, buffer)
  path.write_bytes(buffer.getvalue())
  dump = read_logits(str(path), trust_pickle=True)
  assert list(dump.logits) == ["b.wav", "a.wav"] and dump.vocab == LABELS and dump.step_size == 0.02
  for name, expected in arrays.items():
    np.testing.assert_array_equal(dump.logits[name], expected)


def test_the_decoding_vocabulary_must_be_the_files(tmp_path):
  path = str(tmp_path / "l.npz")
  write_logits(path, ["a.wav"], [GOOD], 0.02, LABELS)
  assert list(read_logits(path, labels=LABELS).logits) == ["a.wav"]
  with pytest.raises(LogitsFileError, match=r"l\.npz: the logits were made with the vocabulary .* abc"):
    read_logits(path, labels=LABELS[:-1] + ["-"])
  pickled = tmp_path / "no_vocab.pickle"
  pickled.write_bytes(pickle.dumps({"logits": {"a.wav": GOOD}}))  # the reference's pickle may lack the vocab
  with pytest.raises(LogitsFileError, match=r"logits of a\.wav have shape \[\d+, 29\], expected \[T, 28\]"):
    read_logits(str(pickled), trust_pickle=True, labels=LABELS[:-1])

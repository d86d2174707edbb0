"""Vocabulary files (spec 3.2)."""
import os
import string
import subprocess
import sys

import tensorflow as tf

from open_seq2seq.data.vocab import load_labels, load_vocab, vocab_params

tf.compat.v1.disable_eager_execution()

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TOY_VOCAB = os.path.join(ROOT, "open_seq2seq/test_utils/toy_speech_data/vocab.txt")


def test_toy_vocab_ids():
  vocab = load_vocab(TOY_VOCAB)
  expected = {" ": 0, "'": 27}
  expected.update({c: i for i, c in enumerate(string.ascii_lowercase, start=1)})
  assert vocab == expected
  assert len(vocab) + 1 == 29  # tgt_vocab_size; class 28 is the CTC blank


def test_empty_lines_skipped_and_first_char_only(tmp_path):
  path = tmp_path / "v.txt"
  path.write_text(" \n\nab\nc\n\n'xyz\n", encoding="utf-8")
  assert load_vocab(str(path)) == {" ": 0, "a": 1, "c": 2, "'": 3}


def test_read_whole_lines(tmp_path):
  path = tmp_path / "v.txt"
  path.write_text("hello\nworld\n", encoding="utf-8")
  assert load_vocab(str(path), read_chars=False) == {"hello": 0, "world": 1}


def test_a_fifo_directory_or_device_is_refused_without_being_opened(tmp_path):
  """Opening a FIFO waits for a writer forever: the check runs in a child process with a timeout."""
  fifo = str(tmp_path / "vocab.fifo")
  os.mkfifo(fifo)
  for path, kind in [(fifo, "a FIFO"), (str(tmp_path), "a directory"), ("/dev/zero", "a device")]:
    code = "from open_seq2seq.data.vocab import load_vocab\ntry:\n  load_vocab({!r})\nexcept ValueError as e:\n" \
           "  print(e)".format(path)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            check=True)
    assert "{}: {}".format(path, kind) in result.stdout


def test_labels_and_data_layer_params_of_one_file():
  labels = load_labels(TOY_VOCAB)
  assert labels == [" "] + list(string.ascii_lowercase) + ["'"]
  params = vocab_params(TOY_VOCAB)
  assert params["char2idx"] == load_vocab(TOY_VOCAB)
  assert params["idx2char"] == dict(enumerate(labels))
  assert params["tgt_vocab_size"] == len(labels) + 1 == 29

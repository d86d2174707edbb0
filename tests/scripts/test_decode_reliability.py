"""scripts/decode.py on bad input ends, every time, in one ``*** Error:`` line naming the cause: malformed ARPA
models are refused by either backend before any worker starts (these once made the worker pool restart
forever), a worker that dies ends the run, a crafted logits pickle is refused unread, and bad flags, logits or
manifests are refused by name. Hang guards run decode.py in a subprocess with a timeout."""
import gzip
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from open_seq2seq.data.speech2text.logits_file import write_logits
from open_seq2seq.decoders import lm_decode as decode
from tests.decoders.test_arpa_validation import good_arpa_text
from tests.e2e.e2e_helpers import REPO

VOCAB = REPO + "/open_seq2seq/test_utils/toy_speech_data/vocab.txt"
LABELS = " abcdefghijklmnopqrstuvwxyz'"
TIMEOUT_S = 120


def run_decode(args, timeout=TIMEOUT_S, launcher=("scripts/decode.py",)):
  """``(exit code, stdout, stderr)`` of decode.py; a run past ``timeout`` fails the test as a hang."""
  try:
    result = subprocess.run([sys.executable] + list(launcher) + args, cwd=REPO, capture_output=True, text=True,
                            timeout=timeout, check=False)
  except subprocess.TimeoutExpired:
    pytest.fail("decode.py {} still running after {} s (hang)".format(" ".join(args), timeout))
  return result.returncode, result.stdout, result.stderr


def assert_one_error_line(code, stderr, *fragments):
  lines = stderr.strip().splitlines()
  assert code == 1 and len(lines) == 1 and lines[0].startswith("*** Error: "), stderr[-3000:]
  for fragment in fragments:
    assert fragment in lines[0], lines[0]


@pytest.fixture()
def logits(tmp_path):
  """Two utterances of random logits and their manifest."""
  rng = np.random.default_rng(0)
  path = str(tmp_path / "logits.npz")
  write_logits(path, ["a.wav", "b.wav"], [rng.normal(size=(t, len(LABELS) + 1)).astype(np.float32) for t in (9, 6)],
               0.02, LABELS)
  manifest = tmp_path / "labels.csv"
  manifest.write_text("wav_filename,wav_filesize,transcript\na.wav,1,a cat\nb.wav,1,the dog\n")
  return {"path": path, "manifest": str(manifest), "dir": tmp_path}


def malformed_arpa(kind):
  good = good_arpa_text().encode("utf-8")
  return {"first 20000 bytes": good[:20000],
          "no end marker": good.replace(b"\\end\\", b""),
          "no data header": good.replace(b"\\data\\", b"", 1),
          "wrong count": good.replace(b"ngram 2=", b"ngram 2=1"),
          "empty": b"",
          "binary garbage": bytes(range(256)) * 20,
          "kenlm binary": b"mmap lm http://kheafield.com/code format version 5\n\0" + bytes(range(256)) * 20,
          "truncated gzip": gzip.compress(good)[:4000]}[kind]


@pytest.mark.parametrize("backend", ["pyctcdecode", "in_house"])
@pytest.mark.parametrize("kind", ["first 20000 bytes", "no end marker", "no data header", "wrong count", "empty",
                                  "binary garbage", "kenlm binary", "truncated gzip"])
def test_malformed_lm_ends_with_one_error_line(logits, kind, backend):
  lm = logits["dir"] / "lm.arpa"
  lm.write_bytes(malformed_arpa(kind))
  output = logits["dir"] / "out.csv"
  code, _, stderr = run_decode(["--logits", logits["path"], "--lm", str(lm), "--vocab", VOCAB, "--mode", "infer",
                                "--infer_output_file", str(output), "--workers", "2", "--lm_backend", backend])
  assert_one_error_line(code, stderr, str(lm))
  assert not output.exists()


@pytest.mark.parametrize("backend", ["pyctcdecode", "in_house"])
@pytest.mark.parametrize("kind", ["fifo", "directory", "/dev/zero"])
def test_lm_that_is_no_regular_file_is_refused_unopened(logits, kind, backend):
  # Opening a FIFO waits for a writer forever and /dev/zero is one endless line: both once hung decode.py.
  lm = logits["dir"] / "lm.arpa"
  if kind == "fifo":
    os.mkfifo(str(lm))
  elif kind == "directory":
    lm.mkdir()
  else:
    lm = kind
  code, _, stderr = run_decode(["--logits", logits["path"], "--lm", str(lm), "--vocab", VOCAB, "--mode", "infer",
                                "--infer_output_file", str(logits["dir"] / "out.csv"), "--lm_backend", backend],
                               timeout=60)
  assert_one_error_line(code, stderr, "{}: a ".format(lm), "expected a regular file")


def test_empty_lm_name_is_not_plain_beam_search(logits):
  code, _, stderr = run_decode(["--logits", logits["path"], "--lm", "", "--vocab", VOCAB, "--mode", "infer",
                                "--infer_output_file", str(logits["dir"] / "out.csv")])
  assert_one_error_line(code, stderr, "--lm is given an empty file name")
  assert not (logits["dir"] / "out.csv").exists()


DIES_IN_THE_WORKER = """
import os, runpy, signal, sys
import open_seq2seq.decoders.ctc_beam_search as search
from open_seq2seq.decoders.pyctcdecode_search import PyctcdecodeSearch
def killed(*args, **kwargs):
  os.kill(os.getpid(), signal.SIGKILL)
search.ctc_beam_search = killed
PyctcdecodeSearch.__call__ = killed
sys.argv = ["scripts/decode.py"] + sys.argv[1:]
runpy.run_path("scripts/decode.py", run_name="__main__")
"""


@pytest.mark.parametrize("backend", ["pyctcdecode", "in_house"])
def test_a_worker_that_dies_ends_the_run(logits, backend):
  output = logits["dir"] / "out.csv"
  code, _, stderr = run_decode(["--logits", logits["path"], "--vocab", VOCAB, "--mode", "infer",
                                "--infer_output_file", str(output), "--workers", "2", "--lm_backend", backend],
                               launcher=("-c", DIES_IN_THE_WORKER))
  assert_one_error_line(code, stderr, "a decoding worker process died")
  assert not output.exists()


class CreatesAFile:

  def __init__(self, path):
    self.path = path

  def __reduce__(self):
    return open, (self.path, "w")


def test_crafted_pickle_is_refused_unread(logits):
  marker = logits["dir"] / "created_by_the_pickle"
  crafted = logits["dir"] / "logits.pickle"
  crafted.write_bytes(pickle.dumps({"logits": {"a.wav": CreatesAFile(str(marker))}}))
  code, _, stderr = run_decode(["--logits", str(crafted), "--vocab", VOCAB, "--mode", "infer",
                                "--infer_output_file", str(logits["dir"] / "out.csv")])
  assert_one_error_line(code, stderr, str(crafted), "--trust_pickle", "arbitrary code")
  assert not marker.exists()


def test_reference_pickle_with_trust_pickle_decodes_like_the_npz(logits):
  with np.load(logits["path"]) as archive:
    arrays = {"a.wav": archive["logits_0"], "b.wav": archive["logits_1"]}
  legacy = logits["dir"] / "legacy.pickle"
  legacy.write_bytes(pickle.dumps({"logits": arrays, "step_size": 0.02, "vocab": dict(enumerate(LABELS))}))
  outputs = []
  for name, path, extra in [("npz", logits["path"], []), ("pickle", str(legacy), ["--trust_pickle"])]:
    output = logits["dir"] / (name + ".csv")
    code, _, stderr = run_decode(["--logits", path, "--vocab", VOCAB, "--mode", "infer", "--infer_output_file",
                                  str(output), "--workers", "1", "--beam_width", "4"] + extra)
    assert code == 0, stderr
    outputs.append(output.read_text())
  assert outputs[0] == outputs[1] and outputs[0].count("\n") == 3


def write_bad_logits(directory):
  path = str(directory / "narrow.npz")
  write_logits(path, ["a.wav"], [np.zeros((4, 5), np.float32)], 0.02, LABELS)
  return path


@pytest.mark.parametrize("args, message", [
    (["--beam_width", "0"], "--beam_width must be >= 1, got 0"),
    (["--workers", "0"], "--workers must be >= 1"),
    (["--cutoff_prob", "0"], "--cutoff_prob must be in (0, 1]"),
    (["--cutoff_top_n", "-3"], "--cutoff_top_n must be >= 1"),
    (["--unknown_word_offset", "nan"], "--unknown_word_offset must be finite"),
    (["--alpha_max", "2", "--alpha_step", "0"], "--alpha_step must be > 0, got 0"),
    (["--beta_max", "2", "--beta_step", "-0.5"], "--beta_step must be > 0, got -0.5"),
    (["--alpha_max", "2"], "--alpha_max and --alpha_step make a grid together"),
    (["--alpha", "3", "--alpha_max", "2", "--alpha_step", "1"], "--alpha_max (2) is below --alpha (3)"),
    (["--alpha_max", "2", "--alpha_step", "1e-6"], "at most 1000 allowed"),
    (["--alpha", "inf"], "must be finite numbers"),
    (["--alpha_max", "2", "--alpha_step", "1"], "an (alpha, beta) grid needs --lm"),
    (["--beam_width", "wide"], "invalid int value: 'wide'"),
])
def test_bad_flags(logits, args, message):
  with pytest.raises(ValueError) as error:
    decode.main(["--logits", logits["path"], "--labels", logits["manifest"], "--vocab", VOCAB] + args)
  assert message in str(error.value)


def test_logits_and_manifests_that_do_not_match(logits):
  directory = logits["dir"]
  missing = directory / "missing.csv"
  missing.write_text("wav_filename,wav_filesize,transcript\na.wav,1,a cat\n")
  extra = directory / "extra.csv"
  extra.write_text("wav_filename,wav_filesize,transcript\na.wav,1,a cat\nb.wav,1,dog\nc.wav,1,more\n")
  conflicting = directory / "conflicting.csv"
  conflicting.write_text("wav_filename,wav_filesize,transcript\na.wav,1,a cat\nb.wav,1,dog\na.wav,1,a hat\n")
  short = directory / "short.csv"
  short.write_text("wav_filename,wav_filesize,transcript\na.wav,1\n")
  cases = [([str(missing)], "missing.csv: no transcript for 1 utterances of {}, e.g. b.wav".format(logits["path"])),
           ([str(extra)], "{}: no logits for 1 utterances of {}, e.g. c.wav".format(logits["path"], extra)),
           ([str(conflicting)], "conflicting.csv rows 2 and 4: a.wav is listed twice"),
           ([str(short)], "short.csv row 2: expected 3 fields"),
           ([logits["manifest"], str(missing)], "missing.csv: a.wav is listed in {} too".format(logits["manifest"]))]
  for manifests, message in cases:
    with pytest.raises(ValueError) as error:
      decode.main(["--logits", logits["path"], "--vocab", VOCAB, "--labels"] + manifests)
    assert message in str(error.value)
  with pytest.raises(ValueError, match=r"narrow.npz: logits of a.wav have shape \[4, 5\], expected \[T, 29\]"):
    decode.main(["--logits", write_bad_logits(directory), "--vocab", VOCAB, "--labels", logits["manifest"]])


@pytest.mark.parametrize("args, fragment", [
    (["--beam_width", "0"], "--beam_width must be >= 1"),
    (["--alpha_max", "2", "--alpha_step", "0"], "--alpha_step must be > 0"),
    (["--beam_width", "wide"], "invalid int value"),
    (["--logits", "NARROW"], "expected [T, 29]"),
])
def test_bad_input_is_one_line_without_traceback(logits, args, fragment):
  args = [write_bad_logits(logits["dir"]) if arg == "NARROW" else arg for arg in args]
  code, _, stderr = run_decode(["--logits", logits["path"], "--labels", logits["manifest"], "--vocab", VOCAB] + args)
  assert_one_error_line(code, stderr, fragment)

"""jasper_online_inference.py replaces its outputs only when a whole run succeeds: a run with a bad new input
leaves the previous features, index, logits and predictions byte-identical (issue 14, case 16)."""
import csv
import hashlib
import os
import shutil

import numpy as np
import pytest
import soundfile

from tests.e2e.e2e_helpers import CONFIG, run_script, snapshot

DEV_MANIFEST = "librivox-dev-clean.csv"


def tree_hashes(output_dir):
  """``{relative path: sha256}`` of every file under ``output_dir``, hidden ones included."""
  return {path: hashlib.sha256(content).hexdigest() for path, content in snapshot(output_dir).items()}


def online(env, model_path, data_dir, output_dir, *options):
  return run_script(["online_inference/jasper_online_inference.py", "--model_path=" + model_path,
                     "--data_dir=" + data_dir, "--output_dir=" + output_dir, "--pre_process=True",
                     "--batchSize=2", "--config_file=" + CONFIG] + list(options), env, check=False)


@pytest.fixture(scope="module")
def frozen_graph(checkpoint, env, tmp_path_factory):
  output_file = str(tmp_path_factory.mktemp("pb") / "dynamic.pb")
  run_script(["generate_pb/ckpt2pb.py", "--config_file=" + CONFIG, "--checkpoint=" + checkpoint,
              "--output_file=" + output_file], env)
  return output_file


@pytest.fixture(scope="module")
def previous_run(frozen_graph, corpus, env, tmp_path_factory):
  """An output folder holding a complete earlier run, and the hashes of its files."""
  output_dir = str(tmp_path_factory.mktemp("online"))
  result = online(env, frozen_graph, corpus, output_dir)
  assert result.returncode == 0, result.stderr[-2000:]
  hashes = tree_hashes(output_dir)
  assert {"jasper/utterances.csv", "predictions.csv", "accuracy.txt"} <= set(hashes)
  assert any(path.startswith("jasper/features/") for path in hashes)
  return output_dir, hashes


def _random_bytes(path):
  with open(path, "wb") as handle:
    handle.write(np.random.RandomState(0).bytes(4000))


def _truncated_wav(path):
  soundfile.write(path, np.zeros(16000, np.float32), 16000, subtype="PCM_16")
  with open(path, "r+b") as handle:
    handle.truncate(44 + 3001)  # the header still promises 16000 samples; an odd byte count cuts a sample


def _empty_file(path):
  open(path, "wb").close()


def _flac_corrupt_in_the_middle(path):
  """Header and last frame intact (a header scan passes), the decoder loses sync halfway."""
  soundfile.write(path, (np.random.RandomState(0).randn(48000) * 0.1).astype(np.float32), 16000, format="FLAC")
  data = bytearray(open(path, "rb").read())
  middle = len(data) // 2
  data[middle:middle + 3000] = bytes(3000)
  with open(path, "wb") as handle:
    handle.write(data)


# kind -> (file name, writer; None: the file does not exist)
BAD_AUDIO = {"random_bytes": ("bad-0000.wav", _random_bytes), "truncated_wav": ("bad-0000.wav", _truncated_wav),
             "empty_file": ("bad-0000.wav", _empty_file), "missing_file": ("bad-0000.wav", None),
             "flac_corrupt_in_the_middle": ("bad-0000.flac", _flac_corrupt_in_the_middle)}


def _manifest_with_bad_row(corpus, data_dir, bad_name, make_bad_audio):
  """A copy of the dev manifest whose last row points at a bad audio file; paths made absolute."""
  os.makedirs(data_dir)
  with open(os.path.join(corpus, DEV_MANIFEST), newline="", encoding="utf-8") as handle:
    rows = list(csv.reader(handle))
  for row in rows[1:]:
    row[0] = os.path.join(corpus, row[0])
  bad = os.path.join(data_dir, bad_name)
  if make_bad_audio is not None:
    make_bad_audio(bad)
  rows[-1][0] = bad
  with open(os.path.join(data_dir, DEV_MANIFEST), "w", newline="", encoding="utf-8") as handle:
    csv.writer(handle).writerows(rows)


def _assert_one_error_and_unchanged(result, output_dir, hashes):
  assert result.returncode != 0
  errors = [line for line in result.stderr.splitlines() if line.startswith("*** Error:")]
  assert len(errors) == 1, result.stderr[-2000:]
  assert "Traceback" not in result.stderr
  assert tree_hashes(output_dir) == hashes


@pytest.mark.parametrize("kind", sorted(BAD_AUDIO))
def test_bad_new_audio_leaves_the_previous_outputs_byte_identical(previous_run, frozen_graph, corpus, env,
                                                                   tmp_path, kind):
  output_dir, hashes = previous_run
  bad_name, make_bad_audio = BAD_AUDIO[kind]
  _manifest_with_bad_row(corpus, str(tmp_path / "data"), bad_name, make_bad_audio)
  result = online(env, frozen_graph, str(tmp_path / "data"), output_dir)
  _assert_one_error_and_unchanged(result, output_dir, hashes)
  assert bad_name in result.stderr


def test_an_unreadable_graph_leaves_the_previous_outputs_byte_identical(previous_run, corpus, env, tmp_path):
  """Pre-processing another (valid) manifest would change every output; the graph is checked first."""
  output_dir, hashes = previous_run
  broken = tmp_path / "broken.pb"
  broken.write_bytes(b"not a graph")
  result = online(env, str(broken), corpus, output_dir, "--manifest=librivox-test-clean.csv")
  _assert_one_error_and_unchanged(result, output_dir, hashes)


def test_a_new_successful_run_replaces_every_output_and_leaves_no_staging(frozen_graph, corpus, env, tmp_path):
  """A stale file of the previous run's features disappears and no predictions.csv of an earlier run stays
  beside the logits of a run without post-processing."""
  output_dir = str(tmp_path / "online")
  assert online(env, frozen_graph, corpus, output_dir).returncode == 0
  stale = os.path.join(output_dir, "jasper", "features", "stale-utterance.bin")
  shutil.copy(os.path.join(output_dir, "accuracy.txt"), stale)
  result = online(env, frozen_graph, corpus, output_dir, "--post_process=False")
  assert result.returncode == 0, result.stderr[-2000:]
  assert sorted(os.listdir(output_dir)) == ["jasper", "logits"]
  assert not os.path.exists(stale)
  with open(os.path.join(corpus, DEV_MANIFEST), newline="", encoding="utf-8") as handle:
    expected = sorted(os.path.splitext(os.path.basename(row["wav_filename"]))[0] + ".bin"
                      for row in csv.DictReader(handle))
  assert sorted(os.listdir(os.path.join(output_dir, "logits"))) == expected
  assert sorted(os.listdir(os.path.join(output_dir, "jasper", "features"))) == expected


def test_references_without_words_are_an_error_not_wer_zero(previous_run, frozen_graph, corpus, env, tmp_path):
  """Blank transcripts (spaces, a tab, a no-break space) leave the WER undefined: the run fails, nothing replaced."""
  output_dir, hashes = previous_run
  data_dir = tmp_path / "data"
  data_dir.mkdir()
  with open(os.path.join(corpus, DEV_MANIFEST), newline="", encoding="utf-8") as handle:
    rows = list(csv.reader(handle))
  for index, row in enumerate(rows[1:]):
    row[0] = os.path.join(corpus, row[0])
    row[2] = [" ", "\t ", "\u00a0"][index % 3]
  with open(data_dir / DEV_MANIFEST, "w", newline="", encoding="utf-8") as handle:
    csv.writer(handle).writerows(rows)
  result = online(env, frozen_graph, str(data_dir), output_dir)
  _assert_one_error_and_unchanged(result, output_dir, hashes)
  assert "hold no words" in result.stderr


@pytest.mark.parametrize("option, fragment", [("--batchSize=0", "argument --batchSize: expected a positive integer"),
                                              ("--pre_process=maybe", "argument --pre_process: expected one of"),
                                              ("--bogus=1", "unrecognized arguments: --bogus=1")])
def test_a_bad_flag_is_one_error_line(tmp_path, option, fragment):
  result = run_script(["online_inference/jasper_online_inference.py", "--output_dir=" + str(tmp_path), option],
                      check=False)
  lines = result.stderr.strip().splitlines()
  assert result.returncode == 1 and len(lines) == 1 and lines[0].startswith("*** Error: "), result.stderr
  assert fragment in lines[0]
  assert os.listdir(str(tmp_path)) == []

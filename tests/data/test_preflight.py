"""Pre-flight audio scan: every bad row found when the data layer is built, skip_bad_data and duration limits
applied from the headers, the per-manifest cache, the shards of eval/infer, a training stream that drains."""
import collections
import json
import os
import subprocess
import sys
import struct
import wave

import numpy as np
import pytest
import soundfile as sf
import tensorflow.compat.v1 as tf

from open_seq2seq.data.speech2text import preflight
from tests.data.test_speech2text_data_layer import layer, write_corpus

tf.disable_eager_execution()
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _noise(seconds, rate=16000, channels=1):
  samples = (np.random.default_rng(1).standard_normal((int(seconds * rate), channels)) * 3000).astype(np.int16)
  return samples[:, 0] if channels == 1 else samples


def _damage(root):
  """Replaces rows 1-7 of a 9-row corpus with one bad file of each kind; returns {row index: reason}."""
  audio = os.path.join(root, "audio")

  def path(index):
    return os.path.join(audio, "utt{}.wav".format(index))

  sf.write(path(1), np.zeros(0, np.int16), 16000, subtype="PCM_16")
  with open(path(2), "wb") as handle:
    handle.write(np.random.default_rng(2).bytes(3000))
  # A FLAC cut in half under a .wav name: its header still announces every frame.
  flac = os.path.join(audio, "full.flac")
  sf.write(flac, _noise(1.0), 16000, format="FLAC")
  with open(flac, "rb") as source, open(path(3), "wb") as target:
    target.write(source.read()[:os.path.getsize(flac) // 2])
  os.remove(flac)
  with open(path(4), "r+b") as handle:
    handle.truncate(os.path.getsize(path(4)) - 1000)
  sf.write(path(5), _noise(0.5, 8000), 8000, subtype="PCM_16")
  sf.write(path(6), _noise(0.5, channels=2), 16000, subtype="PCM_16")
  os.remove(path(7))
  return {1: "empty", 2: "unreadable", 3: "truncated", 4: "truncated", 5: "sample_rate", 6: "channels",
          7: "missing"}


def _is_broken(path):
  """Independent oracles: the whole file cannot be decoded or is empty (soundfile), or the RIFF header declares
  more frames than the file holds (the standard library's wave module)."""
  try:
    data, _ = sf.read(path, dtype="int16")
  except (RuntimeError, OSError):
    return True
  with wave.open(path) as handle:
    declared = handle.getnframes()
  return len(data) == 0 or declared * 2 > os.path.getsize(path) - 44


def test_every_bad_row_is_reported_at_once_and_names_the_manifest(tmp_path, capsys):
  manifest = write_corpus(str(tmp_path), ["good"] + ["bad"] * 7 + ["fine"])
  bad = _damage(str(tmp_path))
  for index, reason in bad.items():
    if reason in ("empty", "unreadable", "truncated"):
      assert _is_broken(str(tmp_path / "audio" / "utt{}.wav".format(index)))
  assert not any(_is_broken(str(tmp_path / "audio" / "utt{}.wav".format(index))) for index in (0, 8))
  with pytest.raises(ValueError) as raised:
    layer(manifest, resample_audio=False, mix_to_mono=False)
  message = str(raised.value)
  assert "7 of 9 rows of {} have unusable audio".format(manifest) in message
  for reason, count in collections.Counter(bad.values()).items():
    assert "{} {}".format(reason, count) in message
  listed = capsys.readouterr().out
  for index in bad:
    assert "utt{}.wav".format(index) in listed and "row {})".format(index + 2) in listed
  assert "utt0.wav" not in listed and "utt8.wav" not in listed


def test_skip_bad_data_drops_them_when_built(tmp_path, capsys):
  manifest = write_corpus(str(tmp_path), ["good"] + ["bad"] * 7 + ["fine"])
  bad = _damage(str(tmp_path))
  data_layer = layer(manifest, resample_audio=False, mix_to_mono=False, skip_bad_data=True, batch_size=8)
  assert "skipped {} utterance(s)".format(len(bad)) in capsys.readouterr().out
  assert data_layer.get_size_in_samples() == 2
  data_layer.build_graph()
  with tf.Session() as sess:
    sess.run(data_layer.iterator.initializer)
    lengths = sess.run(data_layer.input_tensors["target_tensors"][1])
  np.testing.assert_array_equal(lengths, [len("good"), len("fine")])


def test_duration_limits_apply_from_the_headers(tmp_path, capsys):
  # write_corpus: utterance i lasts (i + 1) / 4 s.
  manifest = write_corpus(str(tmp_path), ["a", "b", "c", "d", "e"])
  durations = np.array([(i + 1) / 4 for i in range(5)])
  data_layer = layer(manifest, max_duration=1.1, min_duration=0.3)
  kept = int(np.sum((durations <= 1.1) & (durations >= 0.3)))
  assert data_layer.get_size_in_samples() == kept == 3
  assert "drop 2 of 5 utterances of {} (too_long 1, too_short 1)".format(manifest) in capsys.readouterr().out
  with pytest.raises(ValueError, match=r"hold no usable utterances: all 5 rows were dropped \(too_long 5\)"):
    layer(manifest, max_duration=0.2)


def test_the_scan_is_cached_and_redone_for_changed_or_damaged_entries(tmp_path, monkeypatch):
  manifest = write_corpus(str(tmp_path), ["a", "b", "c"])
  cache_file = manifest + preflight.CACHE_SUFFIX
  layer(manifest)
  with open(cache_file) as handle:
    stored = json.load(handle)["files"]
  assert sorted(stored) == sorted(str(tmp_path / "audio" / "utt{}.wav".format(i)) for i in range(3))
  probed = []
  real_probe = preflight.probe_audio
  monkeypatch.setattr(preflight, "probe_audio", lambda path: probed.append(path) or real_probe(path))
  layer(manifest)
  assert probed == []
  changed = str(tmp_path / "audio" / "utt1.wav")
  sf.write(changed, _noise(0.3), 16000, subtype="PCM_16")
  os.utime(changed, ns=(1, 1))
  layer(manifest)
  assert probed == [changed]
  with open(cache_file, "w") as handle:
    handle.write('{"version": 1, "files": [')
  assert layer(manifest).get_size_in_samples() == 3 and len(probed) == 4
  with open(cache_file) as handle:
    assert len(json.load(handle)["files"]) == 3
  assert not [name for name in os.listdir(str(tmp_path)) if ".tmp." in name]


def test_a_file_damaged_after_its_scan_is_found_again(tmp_path):
  manifest = write_corpus(str(tmp_path), ["a", "b"])
  layer(manifest)
  with open(str(tmp_path / "audio" / "utt0.wav"), "wb") as handle:
    handle.write(b"RIFF garbage, same name, other size and time")
  with pytest.raises(ValueError, match=r"Cannot read audio file .*utt0\.wav: .*row 2\)"):
    layer(manifest)


@pytest.mark.parametrize("num_rows,num_workers", [(1, 2), (1, 3), (2, 3), (5, 2), (7, 3), (3, 3)])
def test_shards_are_balanced_contiguous_and_cover_every_row_once(tmp_path, num_rows, num_workers):
  manifest = write_corpus(str(tmp_path), ["x"] * num_rows)
  ids = []
  for worker in range(num_workers):
    with tf.Graph().as_default():
      data_layer = layer(manifest, mode="infer", num_workers=num_workers, worker_id=worker, batch_size=8)
      data_layer.build_graph()
      worker_ids = []
      with tf.Session() as sess:
        sess.run(data_layer.iterator.initializer)
        while True:
          try:
            worker_ids.extend(sess.run(data_layer.input_tensors["source_ids"][0]).tolist())
          except tf.errors.OutOfRangeError:
            break
    assert len(worker_ids) == data_layer.get_size_in_samples()
    ids.append(worker_ids)
  assert [i for worker_ids in ids for i in worker_ids] == list(range(num_rows))
  assert {len(worker_ids) for worker_ids in ids} <= {num_rows // num_workers, -(-num_rows // num_workers)}


def test_runtime_drops_end_a_stream_that_yields_nothing():
  drops = preflight.RuntimeDrops(["m.csv"])
  for _ in range(3 * 4 + 16):
    drops.note("too_long", 4)
  drops.note(None, 4)
  for _ in range(3 * 4 + 16):
    drops.note("too_long", 4)
  with pytest.raises(ValueError, match=r"No utterance of m\.csv survived its filters in the last 29 reads "
                                       r"\(too_long 57\)"):
    drops.note("too_long", 4)


SPEED_SCRIPT = """
import sys
import tensorflow.compat.v1 as tf
from tests.data.test_speech2text_data_layer import layer
tf.disable_eager_execution()
data_layer = layer(sys.argv[1], mode="train", shuffle=True, max_duration=0.8,
                   augmentation={"speed_perturbation_ratio": [2.0]})
data_layer.build_graph()
with tf.Session() as sess:
  sess.run(data_layer.iterator.initializer)
  try:
    sess.run(data_layer.input_tensors["source_tensors"])
  except tf.errors.OpError:
    print("ERROR:", data_layer.input_error())
"""


def test_a_training_stream_emptied_by_speed_perturbation_ends_with_an_error(tmp_path):
  # Both utterances last 0.5 s and pass max_duration=0.8 in the scan; resampled by the factor 2 they last 1 s.
  manifest = write_corpus(str(tmp_path), ["a", "b"])
  sf.write(str(tmp_path / "audio" / "utt0.wav"), _noise(0.5), 16000, subtype="PCM_16")
  result = subprocess.run([sys.executable, "-c", SPEED_SCRIPT, manifest], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, PYTHONPATH=REPO), check=False)
  assert "ERROR: No utterance of {} survived its filters".format(manifest) in result.stdout, result.stderr[-2000:]
  assert "too_long" in result.stdout



def test_paths_that_are_no_regular_file_are_named_for_what_they_are(tmp_path, capsys):
  manifest = write_corpus(str(tmp_path), ["a", "b", "c", "d", "e"])
  audio = tmp_path / "audio"
  for index in range(1, 4):
    os.remove(str(audio / "utt{}.wav".format(index)))
  os.makedirs(str(audio / "utt1.wav"))
  os.symlink(str(audio / "loop.wav"), str(audio / "utt2.wav"))
  os.symlink(str(audio / "utt2.wav"), str(audio / "loop.wav"))
  os.mkfifo(str(audio / "utt3.wav"))
  os.remove(str(audio / "utt4.wav"))
  # Independent oracles: the standard library's view of each path.
  assert os.path.isdir(str(audio / "utt1.wav")) and not os.path.exists(str(audio / "utt2.wav"))
  assert os.path.islink(str(audio / "utt2.wav")) and not os.path.lexists(str(audio / "utt4.wav"))
  with pytest.raises(ValueError) as raised:
    layer(manifest)
  assert "4 of 5 rows of {} have unusable audio (missing 1, unreadable 3)".format(manifest) in str(raised.value)
  listed = capsys.readouterr().out
  assert "utt1.wav: it is a directory, not a regular file ({} row 3)".format(manifest) in listed
  assert "utt2.wav: Too many levels of symbolic links ({} row 4)".format(manifest) in listed
  assert "utt3.wav: it is a FIFO, not a regular file ({} row 5)".format(manifest) in listed
  assert "Audio file not found: {} ({} row 6)".format(audio / "utt4.wav", manifest) in listed


def test_a_wav_whose_data_size_is_too_small_is_refused(tmp_path):
  manifest = write_corpus(str(tmp_path), ["a", "b"])
  path = str(tmp_path / "audio" / "utt1.wav")
  with open(path, "r+b") as handle:
    handle.seek(40)
    handle.write(struct.pack("<I", 100))
  # The standard library reads the 50 frames the header declares, of a file holding 8000 samples.
  with wave.open(path) as handle:
    assert handle.getnframes() == 50 and (os.path.getsize(path) - 44) // 2 == 8000
  with pytest.raises(ValueError, match=r"utt1\.wav is truncated: its data chunk declares 100 bytes of samples, but "
                                       r"15900 more bytes follow that are no RIFF chunk .*row 3\)"):
    layer(manifest)


def test_a_wav_followed_by_another_chunk_or_zero_padding_is_accepted(tmp_path):
  manifest = write_corpus(str(tmp_path), ["a", "b"])
  for index, tail in enumerate([b"LIST" + struct.pack("<I", 4) + b"INFO", bytes(512)]):
    path = str(tmp_path / "audio" / "utt{}.wav".format(index))
    with open(path, "ab") as handle:
      handle.write(tail)
  assert layer(manifest).get_size_in_samples() == 2


@pytest.mark.parametrize("entry", [[8000, 0, 1, None, None], [8000, 16000, 1, "weird", None],
                                   ["x", 16000, 1, None, None], [-5, 16000, 1, None, None],
                                   [8000, 16000, 0, None, None]])
def test_an_edited_cache_entry_is_probed_again(tmp_path, entry):
  manifest = write_corpus(str(tmp_path), ["a", "b"])
  layer(manifest)
  cache_file = manifest + preflight.CACHE_SUFFIX
  with open(cache_file) as handle:
    stored = json.load(handle)
  path = str(tmp_path / "audio" / "utt1.wav")
  stored["files"][path][2:] = entry
  with open(cache_file, "w") as handle:
    json.dump(stored, handle)
  data_layer = layer(manifest, mode="infer")
  # soundfile's header of the file, not the cache's entry.
  assert data_layer.get_size_in_samples() == 2 and sf.info(path).frames == 8000
  with open(cache_file) as handle:
    assert json.load(handle)["files"][path][2:] == [8000, 16000, 1, None, None]


def test_a_manifest_with_a_header_only_says_so(tmp_path):
  manifest = str(tmp_path / "header.csv")
  with open(manifest, "w") as handle:
    handle.write("wav_filename,wav_filesize,transcript\n\n")
  for mode in ("train", "eval", "infer"):
    with pytest.raises(ValueError, match="dataset_files {} list no utterances: a header and no rows".format(manifest)):
      layer(manifest, mode=mode)


def test_a_header_claiming_a_sample_rate_no_recording_has_is_refused(tmp_path):
  manifest = write_corpus(str(tmp_path), ["a", "b"])
  path = str(tmp_path / "audio" / "utt1.wav")
  with open(path, "r+b") as handle:
    handle.seek(24)
    handle.write(struct.pack("<II", 1, 2))
  # The standard library reads the damaged header: 8000 frames at 1 Hz, which resampled to 16 kHz would be
  # 128 million samples (over two hours).
  with wave.open(path) as handle:
    assert (handle.getframerate(), handle.getnframes()) == (1, 8000)
  with pytest.raises(ValueError, match=r"utt1\.wav has sample rate 1 Hz, under 1000 Hz: a damaged header\? .*row 3\)"):
    layer(manifest)
  assert layer(manifest, skip_bad_data=True).get_size_in_samples() == 1

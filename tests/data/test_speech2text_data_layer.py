"""Speech2TextDataLayer: manifests, bad input and the batches it produces."""
import os

import librosa
import numpy as np
import pytest
import python_speech_features
import soundfile as sf
import tensorflow.compat.v1 as tf
from threadpoolctl import threadpool_info, threadpool_limits

from open_seq2seq.data.speech2text.manifest import read_manifests
from open_seq2seq.data.speech2text.audio import read_audio
from open_seq2seq.data.speech2text.features import logfbank_features
from open_seq2seq.data.speech2text.speech2text import Speech2TextDataLayer

tf.disable_eager_execution()

VOCAB = os.path.join(os.path.dirname(__file__), "..", "..", "open_seq2seq", "test_utils", "toy_speech_data",
                     "vocab.txt")


def write_corpus(root, transcripts, rate=16000):
  rng = np.random.default_rng(0)
  lines = ["wav_filename,wav_filesize,transcript"]
  for index, text in enumerate(transcripts):
    name = "audio/utt{}.wav".format(index)
    path = os.path.join(root, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    samples = (rng.standard_normal(rate // 4 * (index + 1)) * 3000).astype(np.int16)
    sf.write(path, samples, rate, subtype="PCM_16")
    lines.append("{},{},{}".format(name, os.path.getsize(path), text))
  manifest = os.path.join(root, "manifest.csv")
  with open(manifest, "w") as handle:
    handle.write("\n".join(lines) + "\n")
  return manifest


def layer(manifest, mode="eval", **extra):
  params = {"mode": mode, "num_audio_features": 64, "input_type": "logfbank", "vocab_file": VOCAB, "backend": "librosa",
            "dataset_files": [manifest], "batch_size": 2, "norm_per_feature": True, "pad_to": 8}
  params.update(extra)
  return Speech2TextDataLayer(params, None)


def test_missing_manifest_is_named(tmp_path):
  with pytest.raises(ValueError, match="Dataset file not found: .*nothing.csv"):
    layer(str(tmp_path / "nothing.csv"))


def test_missing_audio_names_file_and_row(tmp_path):
  manifest = write_corpus(str(tmp_path), ["hello", "world"])
  os.remove(str(tmp_path / "audio" / "utt1.wav"))
  with pytest.raises(ValueError, match=r"Audio file not found: .*utt1\.wav \(.*manifest\.csv row 3\)"):
    layer(manifest)


def test_unknown_character_names_row_and_character(tmp_path):
  manifest = write_corpus(str(tmp_path), ["hello", "caf\u00e9 2"])
  with pytest.raises(ValueError, match="manifest\\.csv row 3: transcript character '\u00e9'"):
    layer(manifest)


def test_malformed_row_is_named(tmp_path):
  manifest = write_corpus(str(tmp_path), ["hello"])
  with open(manifest, "a") as handle:
    handle.write("only_one_field\n")
  with pytest.raises(ValueError, match=r"manifest\.csv row 3: expected 3 fields"):
    layer(manifest)


def test_corrupt_audio_names_file(tmp_path):
  manifest = write_corpus(str(tmp_path), ["hello"])
  with open(str(tmp_path / "audio" / "utt0.wav"), "wb") as handle:
    handle.write(b"RIFF not really a wave file")
  with pytest.raises(ValueError, match=r"Cannot read audio file .*utt0\.wav"):
    layer(manifest)


def test_wrong_sample_rate_is_refused_when_resampling_is_off(tmp_path):
  manifest = write_corpus(str(tmp_path), ["hello"], rate=8000)
  with pytest.raises(ValueError, match=r"utt0\.wav has sample rate 8000 Hz, expected sample_freq=16000"):
    layer(manifest, resample_audio=False).features_of(0, seed=0)


def test_other_sample_rates_are_resampled(tmp_path):
  rate = 8000
  path = str(tmp_path / "tone.wav")
  t = np.arange(rate) / rate
  sf.write(path, (np.sin(2 * np.pi * 500 * t) * 10000).astype(np.int16), rate, subtype="PCM_16")
  signal = read_audio(path, 16000)
  assert len(signal) == 2 * rate
  peak_hz = np.argmax(np.abs(np.fft.rfft(signal * np.hanning(len(signal))))) * 16000 / len(signal)
  assert peak_hz == pytest.approx(500, abs=2)


def test_stereo_is_mixed_down_or_refused(tmp_path):
  path = str(tmp_path / "stereo.wav")
  left = np.full(1600, 1000, dtype=np.int16)
  right = np.full(1600, 3000, dtype=np.int16)
  sf.write(path, np.stack([left, right], axis=1), 16000, subtype="PCM_16")
  np.testing.assert_array_equal(read_audio(path, 16000), np.full(1600, 2000, dtype=np.float32))
  with pytest.raises(ValueError, match=r"stereo\.wav has 2 channels, expected mono"):
    read_audio(path, 16000, mix_to_mono=False)


def test_shuffle_outside_train_is_refused(tmp_path):
  manifest = write_corpus(str(tmp_path), ["hello"])
  with pytest.raises(ValueError, match="shuffle=True is only allowed in train mode"):
    layer(manifest, shuffle=True)


def test_eval_batches_cover_every_utterance_with_padding(tmp_path):
  transcripts = ["hello", "world wide", "abc"]
  manifest = write_corpus(str(tmp_path), transcripts)
  data_layer = layer(manifest)
  data_layer.build_graph()
  x, x_len = data_layer.input_tensors["source_tensors"]
  y, y_len = data_layer.input_tensors["target_tensors"]
  batches = []
  with tf.Session() as sess:
    sess.run(data_layer.iterator.initializer)
    while True:
      try:
        batches.append(sess.run([x, x_len, y, y_len]))
      except tf.errors.OutOfRangeError:
        break
  assert [len(b[1]) for b in batches] == [2, 1]
  lengths = np.concatenate([b[1] for b in batches])
  # 0.25 s, 0.5 s, 0.75 s of audio: 1 + samples // 160 frames.
  np.testing.assert_array_equal(lengths, [1 + 4000 // 160, 1 + 8000 // 160, 1 + 12000 // 160])
  for features, frames, _, _ in batches:
    assert features.shape[1] % 8 == 0 and features.shape[1] >= frames.max()
  first = batches[0][0][0, :lengths[0]]
  samples, rate = sf.read(str(tmp_path / "audio" / "utt0.wav"), dtype="int16")
  expected = logfbank_features(samples.astype(np.float32), rate, 64, norm_per_feature=True)
  np.testing.assert_allclose(first, expected, rtol=1e-5, atol=1e-5)
  assert not batches[0][0][0, lengths[0]:].any()
  vocab = [line[0] for line in open(VOCAB) if line not in ("", "\n")]
  decoded = []
  for _, _, labels, label_lengths in batches:
    for row, length in zip(labels, label_lengths):
      decoded.append("".join(vocab[i] for i in row[:length]))
  assert decoded == transcripts


def test_the_pipeline_holds_numpy_blas_to_one_thread(tmp_path):
  """The map computes utterances side by side already; BLAS threads on top would spin on the model's cores."""
  manifest = write_corpus(str(tmp_path), ["hello"])
  with threadpool_limits(limits=2, user_api="blas"):
    layer(manifest).build_graph()
    blas_threads = [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]
  assert blas_threads and set(blas_threads) == {1}


def test_length_buckets_group_similar_lengths(tmp_path):
  transcripts = ["a", "b", "c", "d", "e", "f", "g", "h"]
  manifest = write_corpus(str(tmp_path), transcripts)
  # Utterance i lasts (i + 1) / 4 s, i.e. 1 + 25 * (i + 1) frames; boundary 110 splits 0-3 from 4-7.
  data_layer = layer(manifest, mode="train", shuffle=True, length_bucket_boundaries=[110], batch_size=2)
  data_layer.build_graph()
  x_len = data_layer.input_tensors["source_tensors"][1]
  with tf.Session() as sess:
    sess.run(data_layer.iterator.initializer)
    batches = [sess.run(x_len) for _ in range(12)]
  for lengths in batches:
    assert len(lengths) == 2
    assert (lengths < 110).all() or (lengths >= 110).all(), lengths
  seen = set(np.concatenate(batches).tolist())
  assert seen == {1 + 25 * (i + 1) for i in range(8)}


def test_spectrogram_with_too_many_features_is_refused(tmp_path):
  manifest = write_corpus(str(tmp_path), ["hello"])
  with pytest.raises(ValueError, match="num_audio_features=200 exceeds the 161 bins"):
    layer(manifest, input_type="spectrogram", num_audio_features=200)


@pytest.mark.parametrize("input_type", ["spectrogram", "mfcc"])
def test_other_input_types_produce_batches(tmp_path, input_type):
  manifest = write_corpus(str(tmp_path), ["hello", "world"])
  data_layer = layer(manifest, input_type=input_type, num_audio_features=40)
  data_layer.build_graph()
  x, x_len = data_layer.input_tensors["source_tensors"]
  with tf.Session() as sess:
    sess.run(data_layer.iterator.initializer)
    features, lengths = sess.run([x, x_len])
  assert features.shape[2] == 40
  np.testing.assert_array_equal(lengths, [1 + 4000 // 160, 1 + 8000 // 160])


def test_static_shapes_keep_true_lengths_and_count_drops(tmp_path):
  # Utterance i: (i + 1) / 4 s = 1 + 25 * (i + 1) frames; labels of 3, 3, 12, 3 characters.
  manifest = write_corpus(str(tmp_path), ["abc", "def", "abcdefghijkl", "ghi"])
  data_layer = layer(manifest, max_feature_length=80, max_label_length=10, batch_size=4)
  # Row 3 is 101 frames (over 80), row 2 has 12 characters (over 10): rows 0 and 1 remain.
  assert data_layer.num_dropped_by_static_shape == 2
  data_layer.build_graph()
  x, x_len = data_layer.input_tensors["source_tensors"]
  y, y_len = data_layer.input_tensors["target_tensors"]
  assert x.shape.as_list()[1:] == [80, 64]
  with tf.Session() as sess:
    sess.run(data_layer.iterator.initializer)
    features, lengths, labels, label_lengths = sess.run([x, x_len, y, y_len])
  assert features.shape == (2, 80, 64) and labels.shape == (2, 10)
  np.testing.assert_array_equal(lengths, [26, 51])
  np.testing.assert_array_equal(label_lengths, [3, 3])
  assert not features[0, 26:].any()


def test_static_train_batches_are_fully_static(tmp_path):
  manifest = write_corpus(str(tmp_path), ["abc", "def", "ghi"])
  data_layer = layer(manifest, mode="train", shuffle=True, max_feature_length=96, max_label_length=16,
                     batch_size=2)
  data_layer.build_graph()
  assert data_layer.input_tensors["source_tensors"][0].shape.as_list() == [2, 96, 64]
  assert data_layer.input_tensors["target_tensors"][0].shape.as_list() == [2, 16]


def _first_train_batch(manifest, seed):
  with tf.Graph().as_default():
    data_layer = layer(manifest, mode="train", shuffle=True, random_seed=seed, dither=1e-5,
                       augmentation={"speed_perturbation_ratio": [0.9, 1.0, 1.1], "n_freq_mask": 2,
                                     "width_freq_mask": 6, "n_time_mask": 2, "width_time_mask": 6})
    data_layer.build_graph()
    with tf.Session() as sess:
      sess.run(data_layer.iterator.initializer)
      return sess.run(data_layer.input_tensors["source_tensors"])


def test_augmented_training_stream_is_reproducible_per_seed(tmp_path):
  manifest = write_corpus(str(tmp_path), ["abc", "def", "ghi", "jkl"])
  first, again, other = (_first_train_batch(manifest, seed) for seed in (7, 7, 8))
  np.testing.assert_array_equal(first[0], again[0])
  np.testing.assert_array_equal(first[1], again[1])
  assert first[0].shape != other[0].shape or not np.array_equal(first[0], other[0])


def test_skip_bad_data_skips_and_reports_every_class(tmp_path, capsys):
  manifest = write_corpus(str(tmp_path), ["good one", "missing", "caf\u00e9", "corrupt", "good two"])
  os.remove(str(tmp_path / "audio" / "utt1.wav"))
  with open(str(tmp_path / "audio" / "utt3.wav"), "wb") as handle:
    handle.write(b"RIFF broken")
  with open(manifest, "a") as handle:
    handle.write("too,many,fields,here\n")
  data_layer = layer(manifest, skip_bad_data=True)
  construction = capsys.readouterr().out
  assert "skipped 4 utterance(s)" in construction
  assert "row 7: expected 3 fields" in construction and "utt1.wav" in construction
  assert "transcript character" in construction
  data_layer.build_graph()
  y, y_len = data_layer.input_tensors["target_tensors"]
  vocab = [line[0] for line in open(VOCAB) if line not in ("", "\n")]
  decoded = []
  with tf.Session() as sess:
    sess.run(data_layer.iterator.initializer)
    while True:
      try:
        labels, lengths = sess.run([y, y_len])
      except tf.errors.OutOfRangeError:
        break
      decoded.extend("".join(vocab[i] for i in row[:n]) for row, n in zip(labels, lengths))
  assert decoded == ["good one", "good two"]
  data_layer.report_skipped()
  report = capsys.readouterr().out
  assert "skipped 4 utterance(s)" in report and "Cannot read audio file" in report and "utt3.wav" in report


def test_corrupt_audio_stops_the_stream_with_its_name_by_default(tmp_path):
  manifest = write_corpus(str(tmp_path), ["hello", "world"])
  data_layer = layer(manifest)
  # Damaged after the pre-flight scan: found when read.
  with open(str(tmp_path / "audio" / "utt1.wav"), "wb") as handle:
    handle.write(b"RIFF broken")
  data_layer.build_graph()
  with tf.Session() as sess:
    sess.run(data_layer.iterator.initializer)
    with pytest.raises(tf.errors.OpError, match=r"Cannot read audio file .*utt1\.wav.*manifest\.csv row 3"):
      sess.run(data_layer.input_tensors["source_tensors"])


def test_eval_rows_are_sharded_by_worker(tmp_path):
  manifest = write_corpus(str(tmp_path), ["a", "b", "c", "d", "e"])
  # Worker k of W takes rows [k * (N // W), (k + 1) * (N // W)); the last worker also takes the remainder.
  assert [layer(manifest, num_workers=2, worker_id=worker).get_size_in_samples() for worker in (0, 1)] == [2, 3]
  ids_per_worker = []
  for worker in (0, 1):
    with tf.Graph().as_default():
      infer_layer = layer(manifest, mode="infer", num_workers=2, worker_id=worker, batch_size=8)
      infer_layer.build_graph()
      with tf.Session() as sess:
        sess.run(infer_layer.iterator.initializer)
        ids_per_worker.append(sorted(sess.run(infer_layer.input_tensors["source_ids"][0]).tolist()))
    # source_ids index the whole manifest, so gathered predictions can be written in manifest order.
    assert infer_layer.wav_filenames == ["audio/utt{}.wav".format(i) for i in range(5)]
  assert ids_per_worker == [[0, 1], [2, 3, 4]]
  train = layer(manifest, mode="train", shuffle=True, num_workers=2, worker_id=1)
  assert train.get_size_in_samples() == 5


@pytest.mark.parametrize("backend, input_type, num_features", [
    ("librosa", "logfbank", 200), ("librosa", "logfbank", 1000), ("psf", "logfbank", 128),
    ("librosa", "mfcc", 300), ("librosa", "spectrogram", 200), ("psf", "spectrogram", 200)])
def test_more_features_than_the_fft_resolves_are_refused(tmp_path, backend, input_type, num_features):
  """Expected counts from librosa's and python_speech_features' own filterbanks (window 20 ms at 16 kHz: a
  512-point FFT for the mel filters and the librosa DCT, 320 points for spectrograms)."""
  manifest = write_corpus(str(tmp_path), ["hello"])
  if input_type == "logfbank":
    filters = (librosa.filters.mel(sr=16000, n_fft=512, n_mels=num_features, htk=False) if backend == "librosa"
               else python_speech_features.get_filterbanks(num_features, 512, 16000, 0, 8000))
    expected = r"leaves {} of its mel filters without a bin".format(int(np.sum(filters.max(axis=1) <= 0)))
  else:
    expected = r"exceeds the {} bins".format((512 if input_type == "mfcc" else 320) // 2 + 1)
  with pytest.raises(ValueError, match=r"num_audio_features={} {}".format(num_features, expected)):
    layer(manifest, backend=backend, input_type=input_type, num_audio_features=num_features)


@pytest.mark.parametrize("backend, num_features", [("librosa", 160), ("psf", 64)])
def test_filterbanks_without_empty_filters_are_accepted(tmp_path, backend, num_features):
  manifest = write_corpus(str(tmp_path), ["hello"])
  assert layer(manifest, backend=backend, num_audio_features=num_features).get_size_in_samples() == 1


def test_a_missing_librispeech_manifest_names_the_variable_to_set(tmp_path, monkeypatch):
  monkeypatch.setenv("LIBRISPEECH_ROOT", str(tmp_path))
  monkeypatch.delenv("JASPER_MINI_CORPUS", raising=False)
  with pytest.raises(ValueError) as error:
    read_manifests([str(tmp_path / "librivox-dev-clean.csv")])
  assert str(error.value).startswith("Dataset file not found: {}".format(tmp_path / "librivox-dev-clean.csv"))
  assert "LIBRISPEECH_ROOT={}".format(tmp_path) in str(error.value)
  assert "JASPER_MINI_CORPUS unset" in str(error.value)

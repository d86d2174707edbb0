"""backend='psf': each input type against an independent numpy recomputation of the reference's psf steps."""
import math
import os

import numpy as np
import pytest
import scipy.fft
import soundfile as sf

from open_seq2seq.data.speech2text.psf_features import psf_frame_count, psf_speech_features
from open_seq2seq.data.speech2text.speech2text import Speech2TextDataLayer

RATE = 16000
WIN, HOP, NFFT = 320, 160, 512
VOCAB = os.path.join(os.path.dirname(__file__), "..", "..", "open_seq2seq", "test_utils", "toy_speech_data",
                     "vocab.txt")


def signal_of(num_samples, seed=0):
  return (np.random.default_rng(seed).standard_normal(num_samples) * 3000).astype(np.float32)


def int16_padded(signal, pad_to):
  """Peak-normalised int16 signal, zero-padded to a frame count that is a multiple of pad_to."""
  x = np.asarray(signal, np.float32)
  x = (x * (1.0 / (np.abs(x).max() + 1e-5)) * 32767.0).astype(np.int16)
  frames = 1 + math.ceil((len(x) - WIN) / HOP)
  while frames % pad_to:
    frames += 1
  padding = max((frames - 1) * HOP + WIN - len(x), 0)
  return np.concatenate([x, np.zeros(padding, np.int16)]), frames


def frames_of(x, window):
  count = 1 + math.ceil((len(x) - WIN) / HOP)
  padded = np.concatenate([x, np.zeros((count - 1) * HOP + WIN - len(x))])
  return np.stack([padded[i * HOP:i * HOP + WIN] * window for i in range(count)])


def htk_filterbank(nfilt, nfft=NFFT):
  def to_mel(hz):
    return 2595 * np.log10(1 + hz / 700.0)

  def to_hz(mel):
    return 700 * (10 ** (mel / 2595.0) - 1)

  edges = np.floor((nfft + 1) * to_hz(np.linspace(to_mel(0), to_mel(RATE / 2), nfilt + 2)) / RATE)
  bins = np.arange(nfft // 2 + 1)[None, :]
  low, centre, high = edges[:-2, None], edges[1:-1, None], edges[2:, None]
  rising = np.where((bins >= low) & (bins < centre), (bins - low) / np.maximum(centre - low, 1e-12), 0)
  falling = np.where((bins >= centre) & (bins < high), (high - bins) / np.maximum(high - centre, 1e-12), 0)
  return rising + falling


def log_filterbank_energies(x, nfilt):
  emphasised = np.append(x[0], x[1:] - 0.97 * x[:-1].astype(np.float64))
  power = np.abs(np.fft.rfft(frames_of(emphasised, np.ones(WIN)), NFFT)) ** 2 / NFFT
  energies = power @ htk_filterbank(nfilt).T
  return np.log(np.where(energies == 0, np.finfo(float).eps, energies))


def globally_normalised(features, epsilon=1e-5):
  return (features - features.mean()) / (features.std() + epsilon)


@pytest.mark.parametrize("num_samples", [16000, 16123, 8000 + 7 * 160])
def test_logfbank_matches_numpy_recomputation(num_samples):
  signal = signal_of(num_samples)
  x, frames = int16_padded(signal, 8)
  expected = globally_normalised(log_filterbank_energies(x, 64))
  actual = psf_speech_features(signal, RATE, 64, "logfbank", pad_to=8)
  assert actual.shape == (frames, 64) and frames % 8 == 0
  np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4)


def test_mfcc_matches_numpy_recomputation():
  signal = signal_of(20000, seed=1)
  x, _ = int16_padded(signal, 8)
  cepstra = scipy.fft.dct(log_filterbank_energies(x, 2 * 13), type=2, norm="ortho", axis=1)[:, :13]
  lifter = 1 + (2 * 13 / 2.0) * np.sin(np.pi * np.arange(13) / (2 * 13))
  expected = globally_normalised(cepstra * lifter)
  np.testing.assert_allclose(psf_speech_features(signal, RATE, 13, "mfcc", pad_to=8), expected,
                             rtol=1e-4, atol=1e-4)


def test_spectrogram_matches_numpy_recomputation():
  signal = signal_of(12345, seed=2)
  x, _ = int16_padded(signal, 8)
  power = np.abs(np.fft.rfft(frames_of(x.astype(np.float64), np.hanning(WIN)), WIN)) ** 2 / WIN
  log_power = 10 * np.log10(np.maximum(power, 1e-30))
  expected = globally_normalised((log_power - log_power.max())[:, :100])
  # Log power of near-silent bins amplifies float32 rounding, hence the looser absolute tolerance.
  np.testing.assert_allclose(psf_speech_features(signal, RATE, 100, "spectrogram", pad_to=8), expected,
                             rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("num_samples,pad_to,expected", [(320, 0, 1), (100, 0, 1), (481, 0, 3), (480, 0, 2),
                                                         (16000, 8, 104), (16000, 0, 99), (1600, 16, 16)])
def test_frame_count(num_samples, pad_to, expected):
  assert psf_frame_count(num_samples, WIN, HOP, pad_to) == expected
  features = psf_speech_features(signal_of(num_samples), RATE, 20, "logfbank", pad_to=pad_to)
  assert features.shape[0] == expected


def test_unknown_input_type_is_refused():
  with pytest.raises(ValueError, match="input_type must be one of"):
    psf_speech_features(signal_of(4000), RATE, 20, "chroma")


def write_manifest(root, lengths):
  lines = ["wav_filename,wav_filesize,transcript"]
  for index, num_samples in enumerate(lengths):
    path = os.path.join(root, "u{}.wav".format(index))
    sf.write(path, signal_of(num_samples, seed=index).astype(np.int16), RATE, subtype="PCM_16")
    lines.append("u{}.wav,{},hello".format(index, os.path.getsize(path)))
  manifest = os.path.join(root, "m.csv")
  with open(manifest, "w") as handle:
    handle.write("\n".join(lines) + "\n")
  return manifest


def psf_layer(manifest, **extra):
  params = {"mode": "eval", "num_audio_features": 64, "input_type": "logfbank", "vocab_file": VOCAB,
            "dataset_files": [manifest], "batch_size": 2}
  params.update(extra)
  return Speech2TextDataLayer(params, None)


def test_psf_is_the_default_backend_and_pads_per_utterance(tmp_path):
  manifest = write_manifest(str(tmp_path), [16000, 9000])
  data_layer = psf_layer(manifest)
  assert data_layer.params["backend"] == "psf"
  for index, num_samples in enumerate([16000, 9000]):
    features, duration = data_layer.features_of(index, seed=0)
    assert features.shape[0] == psf_frame_count(num_samples, WIN, HOP, 8)
    assert duration == pytest.approx(num_samples / RATE)


def test_psf_cache_key_includes_pad_to(tmp_path):
  manifest = write_manifest(str(tmp_path), [16000])
  cache_dir = str(tmp_path / "cache")
  by_eight = psf_layer(manifest, cache_features=True, cache_dir=cache_dir).features_of(0, seed=0)[0]
  by_sixteen = psf_layer(manifest, cache_features=True, cache_dir=cache_dir, pad_to=16).features_of(0, seed=0)[0]
  assert by_eight.shape[0] == 104 and by_sixteen.shape[0] == 112
  assert len(os.listdir(cache_dir)) == 2


def test_psf_static_limit_counts_padded_frames(tmp_path):
  manifest = write_manifest(str(tmp_path), [16000, 15000])  # 104 and 96 frames once padded to 8
  data_layer = psf_layer(manifest, max_feature_length=100)
  assert data_layer.num_dropped_by_static_shape == 1
  assert data_layer.get_size_in_samples() == 1

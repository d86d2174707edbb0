"""Features equal the original's to float32 rounding (issue 15): each backend against an independent
recomputation of the original OpenSeq2Seq arithmetic (``speech_utils.get_speech_features_librosa`` /
``get_speech_features_psf`` with librosa 0.6), written the way the original writes it and run under the
numpy 1.x casting rules that the project pins.

The fixture ``fixtures/lowpassed_speech.wav`` is an espeak-ng sentence low-passed at 2.5 kHz (8th-order
Butterworth, applied four times): its mel bands above about 3 kHz sit near the ln guard (ln-mel -20 to -46),
where a float32 instead of a float64 Hann window moved the features by up to 4.6e-4.
"""
import os

import hypothesis.extra.numpy as hnp
import librosa
import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from open_seq2seq.data.speech2text.features import speech_features
from open_seq2seq.data.speech2text.psf_features import psf_int16_signal, psf_speech_features

RATE = 16000
FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "lowpassed_speech.wav")


def test_numpy_casts_as_the_original_did():
  """The recomputations below rely on numpy 1.x value-based casting (float32 scalar + Python float is a float64;
  a float32 array times a float64 scalar stays float32), which numpy 2 changed (NEP 50)."""
  peak = np.max(np.abs(np.array([3.0, -7.0], np.float32)))
  assert (peak + 1e-5).dtype == np.float64
  assert (np.ones(2, np.float32) * (1.0 / (peak + 1e-5))).dtype == np.float32


def _normalize_signal(signal):
  """OpenSeq2Seq ``normalize_signal(signal, gain=None)``, verbatim arithmetic."""
  gain = 1.0 / (np.max(np.abs(signal)) + 1e-5)
  return signal * gain


def original_librosa_logfbank(samples, num_features=64):
  """``get_speech_features_librosa(..., features_type='logfbank', window_fn=np.hanning, dither=0,
  norm_per_feature=True)`` with librosa 0.6.3's stft (float64 window times float32 frames, float64 FFT stored
  as complex64) and float64 Slaney filterbank; the normalisation has no epsilon."""
  signal = _normalize_signal(samples.astype(np.float32))
  signal = np.append(signal[0], signal[1:] - 0.97 * signal[:-1])
  stft = librosa.stft(y=signal, n_fft=512, hop_length=160, win_length=320, window=np.hanning, center=True,
                      pad_mode="reflect", dtype=np.complex64)
  power = np.abs(stft) ** 2.0
  mel_basis = librosa.filters.mel(sr=RATE, n_fft=512, n_mels=num_features, fmin=0, fmax=RATE // 2, htk=False,
                                  norm="slaney", dtype=np.float64)
  features = np.log(np.dot(mel_basis, power) + 1e-20).T
  return (features - np.mean(features, axis=0)) / np.std(features, axis=0)


def _lowpassed_speech():
  samples, rate = sf.read(FIXTURE, dtype="int16")
  assert rate == RATE
  return samples


def test_librosa_stft_keeps_the_float64_window_product():
  """The recomputation's stft is the original's dtype sequence: bit-identical to a numpy float64 FFT of the
  float64-windowed frames, rounded to complex64."""
  y = (_lowpassed_speech()[:4000] / 32768.0).astype(np.float32)
  window = np.zeros(512)
  window[96:416] = np.hanning(320)
  padded = np.pad(y, 256, mode="reflect")
  frames = np.stack([padded[i * 160:i * 160 + 512] for i in range(1 + len(y) // 160)])
  expected = np.fft.rfft(frames * window, axis=1).astype(np.complex64).T
  got = librosa.stft(y=y, n_fft=512, hop_length=160, win_length=320, window=np.hanning, center=True,
                     pad_mode="reflect", dtype=np.complex64)
  np.testing.assert_array_equal(got, expected)


def test_fixture_has_bands_near_the_log_guard():
  samples = _lowpassed_speech().astype(np.float32)
  power = np.abs(librosa.stft(y=samples / samples.max(), n_fft=512, hop_length=160, win_length=320,
                              window=np.hanning, pad_mode="reflect")) ** 2
  log_mel = np.log(librosa.filters.mel(sr=RATE, n_fft=512, n_mels=64, norm="slaney", dtype=np.float64) @ power
                   + 1e-20)
  assert np.median(log_mel[-8:]) < -15


def test_librosa_logfbank_equals_the_original_to_float32_rounding():
  samples = _lowpassed_speech()
  expected = original_librosa_logfbank(samples)
  got = speech_features(samples, RATE, 64, "logfbank", dither=0.0, norm_per_feature=True, norm_epsilon=0.0)
  assert got.dtype == np.float32 and got.shape == expected.shape
  assert np.max(np.abs(got - expected)) <= 1e-6


def test_a_float32_window_would_miss_the_bound():
  """The fixture detects the window's precision: with a float32 window the same pipeline is off by more
  than 1e-5 (so the bound above measures something)."""
  samples = _lowpassed_speech()
  signal = _normalize_signal(samples.astype(np.float32))
  signal = np.append(signal[0], signal[1:] - 0.97 * signal[:-1])
  def window32(n):
    return np.hanning(n).astype(np.float32)
  stft = librosa.stft(y=signal, n_fft=512, hop_length=160, win_length=320, window=window32, center=True,
                      pad_mode="reflect", dtype=np.complex64)
  float32_window = np.fft.rfft(  # float32 product, float64 FFT: what the window change removed
      np.lib.stride_tricks.sliding_window_view(np.pad(signal, 256, mode="reflect"), 512)[::160][:stft.shape[1]]
      * np.pad(np.hanning(320), 96).astype(np.float32), axis=1)
  power = (np.abs(float32_window) ** 2).T
  mel_basis = librosa.filters.mel(sr=RATE, n_fft=512, n_mels=64, norm="slaney", dtype=np.float64)
  features = np.log(mel_basis @ power + 1e-20).T
  features = (features - features.mean(axis=0)) / features.std(axis=0)
  assert np.max(np.abs(features - original_librosa_logfbank(samples))) > 1e-5


def original_psf_int16(signal):
  """``get_speech_features_psf``: ``(normalize_signal(signal.astype(np.float32)) * 32767.0).astype(np.int16)``."""
  return (_normalize_signal(signal.astype(np.float32)) * 32767.0).astype(np.int16)


@st.composite
def signals_with_a_peak(draw):
  """Float signals whose peak sits anywhere, with amplitudes from 1 LSB to beyond int16."""
  length = draw(st.integers(1, 600))
  body = draw(hnp.arrays(np.float32, length, elements=st.floats(-1.0, 1.0, width=32)))
  peak = draw(st.one_of(st.integers(1, 32768).map(float), st.floats(0.0009765625, 1048576.0, width=32)))
  position = draw(st.integers(0, length - 1))
  signal = body * np.float32(draw(st.floats(0.0, 1.0, width=32))) * np.float32(peak)
  signal[position] = np.float32(peak) * np.float32(draw(st.sampled_from([1.0, -1.0])))
  return signal


@settings(max_examples=400, deadline=None)
@given(signals_with_a_peak())
def test_psf_int16_signal_is_bit_identical_to_the_original(signal):
  np.testing.assert_array_equal(psf_int16_signal(signal), original_psf_int16(signal))


def test_psf_int16_signal_on_int16_speech_with_every_peak_position():
  """The fixture's samples with its peak moved to each of 200 positions and scaled to 200 amplitudes."""
  speech = _lowpassed_speech().astype(np.float32)
  rng = np.random.default_rng(0)
  for position, amplitude in zip(rng.integers(0, len(speech), 200), rng.integers(1, 32768, 200)):
    signal = np.round(speech * (amplitude / 32768.0 * 1.9)).clip(-amplitude, amplitude).astype(np.float32)
    signal[position] = amplitude
    np.testing.assert_array_equal(psf_int16_signal(signal), original_psf_int16(signal))


def test_psf_logfbank_equals_the_original_to_float32_rounding():
  """psf features of the fixture from the original's int16 signal (padded as the reference pads it) against
  this backend's: bit-identical input, so the features agree to float32 rounding."""
  import python_speech_features as psf
  samples = _lowpassed_speech()
  x = original_psf_int16(samples)
  frames = 1 + int(np.ceil((len(x) - 320) / 160.0))
  x = np.pad(x, (0, (-frames % 8) * 160))
  features = psf.logfbank(x, samplerate=RATE, winlen=0.02, winstep=0.01, nfilt=64, nfft=512, lowfreq=0,
                          highfreq=RATE / 2, preemph=0.97)
  expected = (features - features.mean()) / features.std()
  got = psf_speech_features(samples, RATE, 64, "logfbank", pad_to=8, norm_epsilon=0.0)
  assert got.shape == expected.shape
  assert np.max(np.abs(got - expected)) <= 1e-6


@pytest.mark.parametrize("input_type", ["spectrogram", "mfcc"])
def test_other_librosa_types_share_the_power_spectrum(input_type):
  """spectrogram and mfcc use the same float32 power spectrum: against librosa on the original's sequence."""
  samples = _lowpassed_speech()
  signal = _normalize_signal(samples.astype(np.float32))
  if input_type == "spectrogram":
    power = np.square(np.abs(librosa.stft(y=signal, n_fft=320, hop_length=160, win_length=320, window=np.hanning,
                                          center=True, pad_mode="reflect", dtype=np.complex64)))
    power[power <= 1e-30] = 1e-30
    features = (10 * np.log10(power.T))[:, :64]
  else:
    signal = np.append(signal[0], signal[1:] - 0.97 * signal[:-1])
    power = np.abs(librosa.stft(y=signal, n_fft=512, hop_length=160, win_length=320, window=np.hanning,
                                center=True, pad_mode="reflect", dtype=np.complex64)) ** 2.0
    features = librosa.feature.mfcc(S=power, n_mfcc=40, n_mels=80).T
  expected = (features - features.mean(axis=0)) / features.std(axis=0)
  got = speech_features(samples, RATE, 64 if input_type == "spectrogram" else 40, input_type, dither=0.0,
                        norm_per_feature=True, norm_epsilon=0.0)
  np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)

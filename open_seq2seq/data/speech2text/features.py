"""Speech features with the reference pipelines (librosa 0.6 semantics, re-implemented in numpy).

logfbank: peak normalisation, dither, pre-emphasis 0.97, centred STFT with reflect padding and a
symmetric Hann window zero-padded to n_fft, power spectrum, Slaney mel filterbank, ln(x + 1e-20),
per-utterance mean/std normalisation.
"""
import functools
import math

import numpy as np
import python_speech_features as psf
import scipy.fft

WINDOWS = {"hanning": np.hanning, "hamming": np.hamming, "none": None}

# Slaney mel scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above (27 steps per factor 6.4).
_MEL_LINEAR_HZ = 200.0 / 3
_MEL_LOG_START_HZ = 1000.0
_MEL_LOG_START = _MEL_LOG_START_HZ / _MEL_LINEAR_HZ
_MEL_LOG_STEP = math.log(6.4) / 27.0


def hz_to_mel(frequencies):
  """Slaney mel scale: linear (200/3 Hz per mel) below 1 kHz, logarithmic above."""
  frequencies = np.asarray(frequencies, dtype=np.float64)
  log_part = _MEL_LOG_START + np.log(np.maximum(frequencies, 1e-10) / _MEL_LOG_START_HZ) / _MEL_LOG_STEP
  return np.where(frequencies >= _MEL_LOG_START_HZ, log_part, frequencies / _MEL_LINEAR_HZ)


def mel_to_hz(mels):
  """Inverse of hz_to_mel: Slaney mels -> frequencies in Hz (float64 array)."""
  mels = np.asarray(mels, dtype=np.float64)
  return np.where(mels >= _MEL_LOG_START, _MEL_LOG_START_HZ * np.exp(_MEL_LOG_STEP * (mels - _MEL_LOG_START)),
                  _MEL_LINEAR_HZ * mels)


VTLP_BOUNDARY_HZ = 4800.0


def vtlp_warp(frequencies, alpha, sample_freq, boundary_hz=VTLP_BOUNDARY_HZ):
  """Piecewise-linear frequency warp of vocal-tract-length perturbation (Jaitly & Hinton 2013): ``alpha * f``
  up to ``boundary_hz * min(alpha, 1) / alpha``, then the line that takes Nyquist to Nyquist."""
  frequencies = np.asarray(frequencies, dtype=np.float64)
  nyquist = sample_freq / 2.0
  knee = boundary_hz * min(alpha, 1.0) / alpha
  upper = nyquist - (nyquist - alpha * knee) / (nyquist - knee) * (nyquist - frequencies)
  return np.where(frequencies <= knee, alpha * frequencies, upper)


@functools.lru_cache(maxsize=512)
def mel_basis(sample_freq, n_fft, n_mels, fmin=0.0, fmax=None, vtlp_alpha=1.0):
  """``[n_mels, n_fft//2 + 1]`` triangular filters on the Slaney scale with Slaney area normalisation.

  ``vtlp_alpha`` != 1 evaluates the filters at the VTLP-warped FFT-bin frequencies (a filter centred at c
  then peaks at c / alpha below the warp's knee). Cached per argument set: round alpha (e.g. to 3 decimals).
  """
  fmax = float(sample_freq) / 2 if fmax is None else fmax
  fft_freqs = np.linspace(0, float(sample_freq) / 2, 1 + n_fft // 2)
  if vtlp_alpha != 1.0:
    fft_freqs = vtlp_warp(fft_freqs, vtlp_alpha, sample_freq)
  mel_freqs = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
  fdiff = np.diff(mel_freqs)
  ramps = mel_freqs[:, None] - fft_freqs[None, :]
  lower = -ramps[:-2] / fdiff[:-1, None]
  upper = ramps[2:] / fdiff[1:, None]
  weights = np.maximum(0, np.minimum(lower, upper))
  weights *= (2.0 / (mel_freqs[2:n_mels + 2] - mel_freqs[:n_mels]))[:, None]
  weights.flags.writeable = False
  return weights


def power_spectrogram(signal, n_fft, win_length, hop_length, window):
  """``|STFT|^2`` as float32 ``[n_fft//2 + 1, T]`` with ``T = 1 + len(signal) // hop_length``.

  The signal is reflect-padded by n_fft//2 on both sides (centred frames); the window of
  ``win_length`` samples is zero-padded symmetrically to n_fft.
  """
  padded = np.pad(signal, n_fft // 2, mode="reflect")
  window_values = np.ones(win_length) if window is None else window(win_length)
  left = (n_fft - win_length) // 2
  fft_window = np.zeros(n_fft)
  fft_window[left:left + win_length] = window_values
  num_frames = 1 + (len(padded) - n_fft) // hop_length
  frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop_length][:num_frames]
  # The reference's dtype sequence (librosa 0.6 stft): float32 frames times the float64 window, a float64
  # FFT rounded to complex64, |.|^2 in float32. A float32 window moved quiet mel bands by up to 4.6e-4.
  spectrum = np.fft.rfft(frames * fft_window, n=n_fft, axis=1).astype(np.complex64)
  return (np.abs(spectrum) ** 2).T


def peak_normalize(signal, gain=None):
  """float32 ``signal * gain`` with the reference's ``gain = 1 / (max|signal| + 1e-5)`` unless given.

  The arithmetic of OpenSeq2Seq's ``normalize_signal`` under numpy 1.x casting, spelt out so that numpy 2's
  promotion rules cannot change it: the peak is a float32, the gain is computed in float64, then rounded to
  float32 for the product. Dividing by the peak instead moved psf's int16 samples by 1 LSB.
  """
  x = np.asarray(signal, dtype=np.float32)
  if gain is None:
    gain = 1.0 / (float(np.max(np.abs(x))) + 1e-5)
  return x * np.float32(gain)


def normalize(features, per_feature, epsilon):
  """Zero mean, unit variance over time per column (or over all values); ``epsilon`` guards std=0."""
  if per_feature:
    mean = features.mean(axis=0)
    std = features.std(axis=0)
  else:
    mean = features.mean()
    std = features.std()
  return (features - mean) / (std + epsilon)


INPUT_TYPES = ("logfbank", "spectrogram", "mfcc")


def _preemphasis(x):
  return np.append(x[0], x[1:] - 0.97 * x[:-1]).astype(np.float32)


def speech_features(signal, sample_freq, num_features, input_type="logfbank", window_size=20e-3,
                    window_stride=10e-3, window="hanning", dither=0.0, norm_per_feature=False,
                    norm_epsilon=1e-5, rng=None, gain=None, vtlp_alpha=1.0):
  """Normalised features ``[T, num_features]`` (float32) of int16-range samples, librosa-backend semantics.

  logfbank: pre-emphasis, power STFT (n_fft = next power of two of the window), Slaney mel, ln(x + 1e-20).
  spectrogram: power STFT with n_fft = window length, floored at 1e-30, 10*log10, the lowest
  ``num_features`` bins.
  mfcc: pre-emphasis, power STFT, then the orthonormal DCT-II over frequency, first ``num_features``
  coefficients. The reference hands the power spectrogram to ``librosa.feature.mfcc(S=...)``, which
  expects a log-mel spectrogram, so no mel or log step happens; this keeps that behaviour.
  ``vtlp_alpha`` (logfbank only): warp factor of the mel filterbank (``mel_basis``), rounded to 3 decimals.
  """
  if vtlp_alpha != 1.0 and input_type != "logfbank":
    raise ValueError("vtlp_alpha={} needs input_type='logfbank' (it warps the mel filterbank), got {!r}".format(
        vtlp_alpha, input_type))
  x = peak_normalize(signal, gain)
  win_length = int(sample_freq * window_size)
  hop_length = int(sample_freq * window_stride)
  n_fft = _librosa_n_fft(sample_freq, window_size)
  if dither > 0:
    rng = rng if rng is not None else np.random.default_rng()
    x = x + np.float32(dither) * rng.standard_normal(x.shape).astype(np.float32)
  if input_type == "logfbank":
    power = power_spectrogram(_preemphasis(x), n_fft, win_length, hop_length, WINDOWS[window])
    basis = mel_basis(sample_freq, n_fft, num_features, vtlp_alpha=round(float(vtlp_alpha), 3))
    features = np.log(basis @ power + 1e-20).T
  elif input_type == "spectrogram":
    power = power_spectrogram(x, win_length, win_length, hop_length, WINDOWS[window])
    features = 10 * np.log10(np.maximum(power, 1e-30)).T[:, :num_features]
  elif input_type == "mfcc":
    power = power_spectrogram(_preemphasis(x), n_fft, win_length, hop_length, WINDOWS[window])
    features = scipy.fft.dct(power, type=2, norm="ortho", axis=0)[:num_features].T
  else:
    raise ValueError("input_type must be one of {}, got {!r}".format(INPUT_TYPES, input_type))
  return normalize(features, norm_per_feature, norm_epsilon).astype(np.float32)


def logfbank_features(signal, sample_freq, num_features, **options):
  """``speech_features`` with ``input_type="logfbank"`` (Jasper's features)."""
  return speech_features(signal, sample_freq, num_features, "logfbank", **options)


def num_features_problem(backend, input_type, num_features, sample_freq, window_size):
  """What is wrong with asking ``num_features`` features of this kind, or None: more spectrogram bins or DCT
  coefficients than the FFT has, or a mel filterbank so dense that some filters cover no FFT bin (those
  features would be constant, whatever the audio)."""
  if input_type == "spectrogram" or (input_type == "mfcc" and backend == "librosa"):
    n_fft = int(sample_freq * window_size) if input_type == "spectrogram" else _librosa_n_fft(sample_freq, window_size)
    bins = n_fft // 2 + 1
    if num_features > bins:
      return "exceeds the {} bins of a {}-point FFT (window_size={} s at sample_freq={} Hz)".format(
          bins, n_fft, window_size, sample_freq)
    return None
  if input_type != "logfbank":
    return None
  if backend == "psf":
    filters, n_fft = psf.get_filterbanks(num_features, 512, sample_freq, 0, sample_freq / 2), 512
  else:
    n_fft = _librosa_n_fft(sample_freq, window_size)
    filters = mel_basis(sample_freq, n_fft, num_features)
  empty = int(np.sum(~np.any(filters > 0, axis=1)))
  if empty:
    return "leaves {} of its mel filters without a bin of the {}-point FFT (constant features): use fewer".format(
        empty, n_fft)
  return None


def _librosa_n_fft(sample_freq, window_size):
  return 2 ** math.ceil(math.log2(window_size * sample_freq))

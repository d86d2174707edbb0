"""Additive noise at an exact signal-to-noise ratio: coloured Gaussian noise and babble of other utterances."""
import numpy as np
import scipy.fft

from .params import NOISE_EXPONENTS


def colored_noise(color, size, rng):
  """Gaussian noise of variance 1 (about its mean) whose power spectral density goes as f^-exponent of ``color``.

  The algorithm of colorednoise.powerlaw_psd_gaussian (Timmer & Koenig 1995: independent Gaussian real and
  imaginary Fourier coefficients scaled by f^(-exponent/2), the lowest nonzero frequency's scale at DC, one
  inverse FFT), in single precision with scipy.fft: about half that package's float64 cost for 4 s at 16 kHz.
  """
  exponent = NOISE_EXPONENTS[color]
  if exponent == 0:
    return rng.standard_normal(size, dtype=np.float32)
  half = size // 2 + 1
  spectrum = rng.standard_normal((half, 2), dtype=np.float32).view(np.complex64)[:, 0]
  freqs = np.arange(half, dtype=np.float32)
  freqs[0] = 1.0
  scale = freqs ** np.float32(-exponent / 2)
  spectrum *= scale
  # DC (and Nyquist for an even size) are real: their imaginary draw is dropped, the real one scaled by sqrt(2).
  real_bins = [0, half - 1] if size % 2 == 0 else [0]
  spectrum[real_bins] = spectrum[real_bins].real * np.float32(np.sqrt(2))
  # Variance about the mean of the inverse transform (DC excluded): 2 * |coefficient|^2 per complex bin, the
  # real Nyquist bin once, over N^2.
  power = 4 * np.square(scale[1:], dtype=np.float64)
  if size % 2 == 0:
    power[-1] /= 2
  spectrum /= np.float32(np.sqrt(power.sum()) / size)
  return scipy.fft.irfft(spectrum, n=size)


def mix_at_snr(signal, noise, snr_db):
  """``signal + g * noise`` with ``g`` such that 10*log10(P(signal) / P(g * noise)) = snr_db, P the mean
  power over the whole utterance. A silent signal or noise is returned unchanged."""
  signal_power = float(np.mean(np.square(signal, dtype=np.float64)))
  noise_power = float(np.mean(np.square(noise, dtype=np.float64)))
  if signal_power == 0.0 or noise_power == 0.0:
    return signal
  scale = np.sqrt(signal_power / (noise_power * 10.0 ** (snr_db / 10.0)))
  return (signal + scale * noise).astype(np.float32)


def babble(paths, read, count, length, rng, exclude=None):
  """Sum of ``count`` utterances of ``paths`` (other than ``exclude``), each read with ``read(path)``, looped
  from a random offset to ``length`` samples and scaled to unit power."""
  picks = rng.choice(len(paths), size=min(count + 1, len(paths)), replace=False)
  picks = [index for index in picks if paths[index] != exclude][:count]
  total = np.zeros(length, np.float32)
  for index in picks:
    other = np.asarray(read(paths[index]), np.float32)
    power = np.mean(np.square(other), dtype=np.float64)
    if power > 0:
      total += np.resize(np.roll(other, -int(rng.integers(len(other)))), length) * np.float32(1 / np.sqrt(power))
  return total

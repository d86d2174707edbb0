"""Speech features with the python_speech_features backend (``backend='psf'``), the reference's pipeline.

The signal is peak-normalised and rescaled to int16, then zero-padded so that its frame count
``1 + ceil((N - win) / hop)`` is a multiple of ``pad_to`` (the padding frames are part of the features and of
their length, as in the reference). Features: ``logfbank`` (rectangular window, HTK mel filters, power
spectrum / n_fft), ``mfcc`` (2F filters, liftered DCT, no energy term) or ``spectrogram`` (Hann window,
log power spectrum, the lowest F bins); always global mean/std normalisation.
"""
import math

import numpy as np
import python_speech_features as psf

from .features import INPUT_TYPES, peak_normalize

_PSF_NFFT = 512


def psf_frame_count(num_samples, win_length, hop_length, pad_to=0):
  """Frames python_speech_features cuts from ``num_samples`` (the last one zero-filled), rounded up to a
  multiple of ``pad_to`` when it is positive."""
  frames = 1 if num_samples <= win_length else 1 + int(math.ceil((num_samples - win_length) / float(hop_length)))
  if pad_to > 0:
    frames += (pad_to - frames % pad_to) % pad_to
  return frames


def psf_int16_signal(signal):
  """The peak-normalised signal rescaled to int16 as the reference does it: ``normalize_signal`` (float32,
  reciprocal gain; ``peak_normalize``), times 32767 in float32, truncated toward zero by ``astype``."""
  return (peak_normalize(signal) * np.float32(32767.0)).astype(np.int16)


def psf_speech_features(signal, sample_freq, num_features, input_type="logfbank", window_size=20e-3,
                        window_stride=10e-3, pad_to=8, norm_epsilon=1e-5):
  """Normalised features ``[T, num_features]`` (float32) of int16-range samples, psf-backend semantics."""
  x = psf_int16_signal(signal)
  win_length = int(sample_freq * window_size)
  hop_length = int(sample_freq * window_stride)
  num_frames = psf_frame_count(len(x), win_length, hop_length)
  if pad_to > 0 and num_frames % pad_to:
    x = np.pad(x, (0, (pad_to - num_frames % pad_to) * hop_length), mode="constant")
  if input_type == "logfbank":
    features = psf.logfbank(x, samplerate=sample_freq, winlen=window_size, winstep=window_stride,
                            nfilt=num_features, nfft=_PSF_NFFT, lowfreq=0, highfreq=sample_freq / 2,
                            preemph=0.97)
  elif input_type == "mfcc":
    features = psf.mfcc(x, samplerate=sample_freq, winlen=window_size, winstep=window_stride,
                        numcep=num_features, nfilt=2 * num_features, nfft=_PSF_NFFT, lowfreq=0, highfreq=None,
                        preemph=0.97, ceplifter=2 * num_features, appendEnergy=False)
  elif input_type == "spectrogram":
    frames = psf.sigproc.framesig(x, win_length, hop_length, winfunc=np.hanning)
    features = psf.sigproc.logpowspec(frames, win_length)[:, :num_features]
  else:
    raise ValueError("input_type must be one of {}, got {!r}".format(INPUT_TYPES, input_type))
  features = (features - features.mean()) / (features.std() + norm_epsilon)
  return features.astype(np.float32)

"""Reading audio files with clear errors."""
import math

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly


def read_audio(path, expected_rate, resample=True, mix_to_mono=True):
  """Returns int16-range float32 mono samples of a WAV/FLAC file at ``expected_rate``.

  Another sample rate is resampled (polyphase filter) when ``resample``, else refused; several channels
  are averaged when ``mix_to_mono``, else refused. Nothing is silently misread.
  """
  try:
    samples, rate = sf.read(path, dtype="int16", always_2d=True)
  except (RuntimeError, OSError, sf.LibsndfileError) as error:
    raise ValueError("Cannot read audio file {}: {}".format(path, error)) from error
  if samples.shape[0] == 0:
    raise ValueError("Audio file {} is empty".format(path))
  if samples.shape[1] > 1 and not mix_to_mono:
    raise ValueError("Audio file {} has {} channels, expected mono (or set mix_to_mono=True)".format(
        path, samples.shape[1]))
  # A mono file skips the mean over channels (the same values, a third of the cost of reading a WAV).
  signal = samples[:, 0].astype(np.float32) if samples.shape[1] == 1 else samples.astype(np.float32).mean(axis=1)
  if rate != expected_rate:
    if not resample:
      raise ValueError("Audio file {} has sample rate {} Hz, expected sample_freq={} Hz (or set "
                       "resample_audio=True)".format(path, rate, expected_rate))
    divisor = math.gcd(rate, expected_rate)
    signal = resample_poly(signal, expected_rate // divisor, rate // divisor).astype(np.float32)
  return signal


def audio_num_samples(path, expected_rate):
  """Number of samples per channel once read at ``expected_rate``, from the file header only."""
  try:
    info = sf.info(path)
    return info.frames * expected_rate // info.samplerate
  except (RuntimeError, OSError, sf.LibsndfileError) as error:
    raise ValueError("Cannot read audio file {}: {}".format(path, error)) from error

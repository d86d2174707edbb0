"""Reading audio files with clear errors."""
import numpy as np
import soundfile as sf


def read_audio(path, expected_rate):
  """Returns int16-range float32 samples (mono) of a WAV/FLAC file, checking its sample rate."""
  try:
    samples, rate = sf.read(path, dtype="int16", always_2d=True)
  except (RuntimeError, OSError, sf.LibsndfileError) as error:
    raise ValueError("Cannot read audio file {}: {}".format(path, error)) from error
  if rate != expected_rate:
    raise ValueError("Audio file {} has sample rate {} Hz, expected sample_freq={} Hz".format(
        path, rate, expected_rate))
  if samples.shape[0] == 0:
    raise ValueError("Audio file {} is empty".format(path))
  if samples.shape[1] > 1:
    raise ValueError("Audio file {} has {} channels, expected mono".format(path, samples.shape[1]))
  return samples[:, 0].astype(np.float32)


def audio_num_samples(path):
  """Number of samples per channel, from the file header only."""
  try:
    return sf.info(path).frames
  except (RuntimeError, OSError, sf.LibsndfileError) as error:
    raise ValueError("Cannot read audio file {}: {}".format(path, error)) from error

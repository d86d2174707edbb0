"""Reading audio files with clear errors."""
import math

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

# libsndfile hands float reads of integer formats over scaled to [-1, 1) (1/32768 per 16-bit step) and float
# formats as stored; one factor therefore puts every format on the int16 scale of a PCM_16 copy.
_INT16_FULL_SCALE = 32768.0


def read_audio(path, expected_rate, resample=True, mix_to_mono=True):
  """Returns int16-range float32 mono samples ``[N]`` of an audio file at ``expected_rate``.

  Every format libsndfile reads gives the samples of its 16-bit PCM copy (within the coarser format's
  quantisation step): integer and companded formats (PCM_U8 ... PCM_32, ULAW, ALAW, FLAC) and float ones
  (FLOAT, DOUBLE, full scale 1.0); lossy codecs (Vorbis, Opus, MP3, GSM 6.10, ADPCM) on the same scale.
  Float samples beyond full scale are kept, not clipped, since the features normalise the peak anyway.
  Another sample rate is resampled (polyphase filter) when ``resample``, else refused; several channels are
  averaged when ``mix_to_mono``, else refused.
  Raises ValueError naming the file for an unreadable or empty file and for NaN/Inf samples.
  """
  try:
    with sf.SoundFile(path) as audio:
      rate = audio.samplerate
      # PCM_16 is read as int16 directly (the common case and the hot path); a float read of any other
      # format keeps its resolution, and reading a float file as int16 would round its samples to {-1, 0, 1}.
      pcm16 = audio.subtype == "PCM_16"
      kind = "{} {}".format(audio.format, audio.subtype)
      samples = _read_all(audio, "int16" if pcm16 else "float32")
  except (RuntimeError, OSError, sf.LibsndfileError) as error:
    raise ValueError("Cannot read audio file {}: {}".format(path, error)) from error
  if samples.shape[0] == 0:
    raise ValueError("Audio file {} is empty".format(path))
  if samples.shape[1] > 1 and not mix_to_mono:
    raise ValueError("Audio file {} has {} channels, expected mono (or set mix_to_mono=True)".format(
        path, samples.shape[1]))
  # A mono file skips the mean over channels (the same values, a third of the cost of reading a WAV).
  signal = samples[:, 0].astype(np.float32) if samples.shape[1] == 1 else samples.astype(np.float32).mean(axis=1)
  if not pcm16:
    signal *= np.float32(_INT16_FULL_SCALE)
    if not np.isfinite(signal).all():
      raise ValueError("Audio file {} ({}) holds {} non-finite samples (NaN, Inf or beyond float32 range), "
                       "expected finite audio".format(path, kind, np.count_nonzero(~np.isfinite(signal))))
  if rate != expected_rate:
    if not resample:
      raise ValueError("Audio file {} has sample rate {} Hz, expected sample_freq={} Hz (or set "
                       "resample_audio=True)".format(path, rate, expected_rate))
    divisor = math.gcd(rate, expected_rate)
    signal = resample_poly(signal, expected_rate // divisor, rate // divisor).astype(np.float32)
  return signal


def _read_all(audio, dtype):
  """Every frame of an open SoundFile as ``[N, channels]``. libsndfile cannot seek in some codecs (GSM 6.10,
  G.721/G.723 ADPCM, NMS ADPCM, XI DPCM) and soundfile refuses a whole-file read of those, so they are read in
  blocks until the decoder runs dry."""
  if audio.seekable():
    return audio.read(dtype=dtype, always_2d=True)
  blocks = []
  while True:
    block = audio.read(65536, dtype=dtype, always_2d=True)
    if not len(block):
      break
    blocks.append(block)
  return np.concatenate(blocks) if blocks else np.zeros((0, audio.channels), dtype=dtype)


def audio_num_samples(path, expected_rate):
  """Number of samples per channel once read at ``expected_rate``, from the file header only."""
  try:
    info = sf.info(path)
    return info.frames * expected_rate // info.samplerate
  except (RuntimeError, OSError, sf.LibsndfileError) as error:
    raise ValueError("Cannot read audio file {}: {}".format(path, error)) from error

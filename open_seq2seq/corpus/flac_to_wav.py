"""The audio of a LibriSpeech split: header checks and full decoding of its FLAC files (16 kHz, mono) and their
conversion to 16-bit PCM WAV files, written atomically and skipped when a complete one is already there."""
import os

import soundfile as sf

from open_seq2seq.corpus.errors import LibrivoxImportError
from open_seq2seq.utils.atomic import atomic_output

SAMPLE_RATE = 16000


def wav_is_complete(wav_path, frames):
  """True if ``wav_path`` is a readable 16 kHz mono 16-bit WAV of ``frames``."""
  try:
    info = sf.info(wav_path)
  except (RuntimeError, OSError):
    return False
  return (info.format == "WAV" and info.subtype == "PCM_16"
          and info.samplerate == SAMPLE_RATE and info.channels == 1
          and info.frames == frames)


def check_flac(flac_path):
  """Header checks of a LibriSpeech FLAC (exists, readable, 16 kHz, mono); returns its soundfile info.
  Raises LibrivoxImportError naming the file."""
  if not os.path.isfile(flac_path):
    raise LibrivoxImportError("missing audio file {}".format(flac_path))
  try:
    info = sf.info(flac_path)
  except (RuntimeError, OSError) as e:
    raise LibrivoxImportError("cannot read audio file {}: {}".format(flac_path, e)) from e
  if info.samplerate != SAMPLE_RATE:
    raise LibrivoxImportError("{} has a sample rate of {} Hz, expected {} Hz".format(
        flac_path, info.samplerate, SAMPLE_RATE))
  if info.channels != 1:
    raise LibrivoxImportError("{} has {} channels, expected mono".format(flac_path, info.channels))
  return info


def decode_flac(flac_path, info):
  """int16 samples ``[N]`` of a FLAC whose header ``info`` check_flac read; raises LibrivoxImportError naming
  the file when it does not decode to the end (truncated, damaged frames)."""
  try:
    data, _ = sf.read(flac_path, dtype="int16")
  except (RuntimeError, OSError) as e:
    raise LibrivoxImportError("cannot decode audio file {}: {}".format(flac_path, e)) from e
  if len(data) != info.frames:
    raise LibrivoxImportError("{} is truncated or corrupt: decoded {} of {} samples".format(
        flac_path, len(data), info.frames))
  return data


def convert_flac(flac_path, wav_path):
  """FLAC -> 16-bit PCM WAV (atomic); returns the WAV size in bytes.

  Skips the conversion when a complete WAV is already there.
  """
  info = check_flac(flac_path)
  if not wav_is_complete(wav_path, info.frames):
    data = decode_flac(flac_path, info)
    with atomic_output(wav_path) as tmp:
      sf.write(tmp, data, SAMPLE_RATE, subtype="PCM_16", format="WAV")
  return os.path.getsize(wav_path)

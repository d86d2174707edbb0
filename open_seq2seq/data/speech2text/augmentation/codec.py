"""Speech-codec round trips (the transcoding augmentation of NeMo's ``TranscodePerturbation``): the signal is
encoded at 8 kHz by sox and decoded back at the data layer's rate, so the model hears the spectral smoothing,
pitch and excitation coding and quantisation noise of phone channels, not only their band.

Codecs (``CODECS``):
- ``amr-nb``: 3GPP AMR narrowband, the codec of GSM/UMTS mobile calls, an algebraic CELP coder with 8 modes from
  4.75 to 12.2 kbit/s (one drawn per utterance); sox through libopencore-amrnb (Debian's libsox-fmt-all).
- ``g711``: ITU-T G.711 mu-law, 8-bit logarithmic PCM at 8 kHz (64 kbit/s), the fixed-line and VoIP codec.

Both run as two sox processes (encode, decode) on in-memory data, with sox's automatic dither off (``-D``) so
a round trip depends only on its input and mode. The decoded signal is cut or zero-padded to the input's
length: AMR-NB adds 5 ms of codec delay and fills its last 20-ms frame; CTC needs no alignment.
"""
import subprocess

import numpy as np

CODEC_RATE = 8000
# Bytes per 20-ms frame of the AMR storage format (RFC 4867 section 5: one header octet, then the mode's bits
# rounded up to octets) for modes 0-7: 4.75, 5.15, 5.9, 6.7, 7.4, 7.95, 10.2 and 12.2 kbit/s.
AMR_NB_FRAME_BYTES = (13, 14, 16, 18, 20, 21, 27, 32)
AMR_NB_MAGIC = b"#!AMR\n"
# sox's arguments for the encoded stream of each codec, as output of the encoder and input of the decoder.
CODECS = {
    "amr-nb": ["-t", "amr-nb", "-r", str(CODEC_RATE), "-c", "1"],
    "g711": ["-t", "raw", "-e", "u-law", "-b", "8", "-r", str(CODEC_RATE), "-c", "1"],
}
SOX = "sox"
_TIMEOUT_S = 60.0
# The level the encoders see: the loudest sample at -10 dBFS. AMR-NB's decoded waveform can overshoot its input's
# peak; from -1 dBFS it clipped at full scale (broadband distortion up to 8 kHz).
PEAK_DBFS = -10.0
_PEAK = 10.0 ** (PEAK_DBFS / 20.0)


def _float_stream(sample_freq):
  return ["-t", "raw", "-e", "floating-point", "-b", "32", "-r", str(int(sample_freq)), "-c", "1"]


def _sox(arguments, data, codec):
  """sox's standard output for ``data`` on its standard input. Raises ValueError naming the codec when sox is
  missing, fails (e.g. built without the codec) or runs past the timeout."""
  command = [SOX, "-V1", "-D"] + arguments
  try:
    done = subprocess.run(command, input=data, capture_output=True, timeout=_TIMEOUT_S, check=False)
  except FileNotFoundError as error:
    raise ValueError("augmentation: codec {!r} needs sox on the PATH ({})".format(codec, error)) from error
  except subprocess.TimeoutExpired as error:
    raise ValueError("augmentation: codec {!r}: sox did not finish within {:.0f} s".format(codec, _TIMEOUT_S)) \
        from error
  if done.returncode != 0:
    message = done.stderr.decode(errors="replace").strip().splitlines()
    raise ValueError("augmentation: codec {!r}: sox exited with status {} ({}); AMR-NB needs sox with "
                     "libopencore-amrnb (Debian: libsox-fmt-all)".format(
                         codec, done.returncode, message[-1] if message else "no message"))
  return done.stdout


def encode(signal, sample_freq, codec, mode=0):
  """The bitstream of ``signal`` (float ``[N]`` at ``sample_freq`` Hz, scaled to a ``PEAK_DBFS`` peak first) in
  ``codec`` at 8 kHz: the AMR storage format (``AMR_NB_MAGIC``, then 20-ms frames of ``mode`` 0-7) or raw G.711
  mu-law bytes. Raises ValueError for an unknown codec or mode, or when sox fails."""
  if codec not in CODECS:
    raise ValueError("augmentation: unknown codec {!r}; expected one of {}".format(codec, sorted(CODECS)))
  if codec == "amr-nb" and mode not in range(len(AMR_NB_FRAME_BYTES)):
    raise ValueError("augmentation: AMR-NB mode must be 0-7, got {!r}".format(mode))
  signal = np.asarray(signal, dtype=np.float32)
  peak = float(np.max(np.abs(signal))) if signal.size else 0.0
  scaled = signal * np.float32(_PEAK / peak) if peak > 0 else signal
  encoder = CODECS[codec] + (["-C", str(mode)] if codec == "amr-nb" else [])
  return _sox(_float_stream(sample_freq) + ["-"] + encoder + ["-"], scaled.tobytes(), codec)


def decode(data, codec, sample_freq, num_samples):
  """float32 ``[num_samples]`` at ``sample_freq`` Hz decoded from ``encode``'s ``data`` (cut or zero-padded
  to ``num_samples``). Raises ValueError when sox fails."""
  decoded = np.frombuffer(_sox(CODECS[codec] + ["-"] + _float_stream(sample_freq) + ["-"], data, codec),
                          dtype=np.float32)
  return np.pad(decoded[:num_samples], (0, max(0, num_samples - len(decoded))))


def transcode(signal, sample_freq, codec, mode=0):
  """``signal`` (float ``[N]``) through ``codec`` at 8 kHz and back: float32 ``[N]`` at the input's level (the
  codec runs on the signal scaled to a ``PEAK_DBFS`` peak). Raises ValueError as ``encode`` does."""
  signal = np.asarray(signal, dtype=np.float32)
  peak = float(np.max(np.abs(signal))) if signal.size else 0.0
  if peak == 0:
    return signal.copy()
  decoded = decode(encode(signal, sample_freq, codec, mode), codec, sample_freq, len(signal))
  return decoded * np.float32(peak / _PEAK)


def check_codecs(codecs, sample_freq):
  """Runs each of ``codecs`` once on 60 ms of a tone, so that a sox without the codec is a configuration error
  when the data layer is built rather than a failure inside the input pipeline. Raises ValueError."""
  tone = np.sin(2 * np.pi * 440.0 * np.arange(int(0.06 * sample_freq)) / sample_freq).astype(np.float32)
  for codec in codecs:
    transcode(tone, sample_freq, codec)

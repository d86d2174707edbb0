"""read_audio: every sample format libsndfile writes gives the samples and features of the 16-bit copy."""
import numpy as np
import pytest
import soundfile as sf

from open_seq2seq.data.speech2text.audio import read_audio
from open_seq2seq.data.speech2text.features import speech_features
from open_seq2seq.data.speech2text.preflight import probe_audio
from open_seq2seq.data.speech2text.psf_features import psf_speech_features

RATE = 16000

# (container, subtype, its step in int16 units): samples stay within one step (+1 for the 16-bit copy's own
# rounding) of the 16-bit copy; libsndfile truncates when writing 8-bit PCM, and mu-law/A-law's largest segment
# step is 1024 at 16-bit scale. Formats coarser than 16 bits hold only 8-bit detail, so their features follow
# the 16-bit copy's less closely (0.99 instead of 0.999).
FORMATS = [
    ("WAV", "PCM_U8", 256), ("WAV", "PCM_16", 1), ("WAV", "PCM_24", 1), ("WAV", "PCM_32", 1),
    ("WAV", "FLOAT", 1), ("WAV", "DOUBLE", 1), ("FLAC", "PCM_S8", 256), ("FLAC", "PCM_16", 1),
    ("FLAC", "PCM_24", 1), ("WAV", "ULAW", 1024), ("WAV", "ALAW", 1024), ("AIFF", "PCM_16", 1),
]


def _speech_like(seconds=1.0, peak=0.9):
  """Harmonics of a gliding pitch under a syllable-rate envelope, plus faint noise, scaled to ``peak``."""
  t = np.arange(int(seconds * RATE)) / RATE
  pitch = 120 + 40 * np.sin(2 * np.pi * 1.5 * t)
  phase = 2 * np.pi * np.cumsum(pitch) / RATE
  voiced = sum(np.sin(k * phase) / k for k in range(1, 20))
  envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 4 * t)
  x = voiced * envelope + 0.01 * np.random.default_rng(0).standard_normal(len(t))
  return peak * x / np.max(np.abs(x))


def _write(path, signal, fmt, subtype, rate=RATE):
  sf.write(str(path), signal, rate, format=fmt, subtype=subtype)
  return str(path)


def _features(signal):
  """Both backends' logfbank features, flattened."""
  return np.concatenate([speech_features(signal, RATE, 64, "logfbank").ravel(),
                         psf_speech_features(signal, RATE, 64, "logfbank").ravel()])


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
  """The signal and its 16-bit WAV copy read as int16 by soundfile itself (the oracle)."""
  signal = _speech_like()
  path = _write(tmp_path_factory.mktemp("ref") / "ref.wav", signal, "WAV", "PCM_16")
  samples, _ = sf.read(path, dtype="int16")
  return signal, samples.astype(np.float64)


@pytest.mark.parametrize("fmt,subtype,step", FORMATS, ids=["{}-{}".format(f, s) for f, s, _ in FORMATS])
def test_every_format_reads_like_the_16_bit_copy(tmp_path, reference, fmt, subtype, step):
  signal, int16_copy = reference
  path = _write(tmp_path / "x.{}".format(fmt.lower()), signal, fmt, subtype)
  samples = read_audio(path, RATE)
  assert samples.dtype == np.float32 and samples.shape == int16_copy.shape
  assert np.max(np.abs(samples - int16_copy)) <= step + 1
  if step > 1:
    # A format of at most 16 bits decodes exactly onto the int16 grid: libsndfile's own int16 read is the oracle.
    np.testing.assert_array_equal(samples, sf.read(path, dtype="int16")[0])
  correlation = np.corrcoef(_features(samples), _features(int16_copy.astype(np.float32)))[0, 1]
  assert correlation > (0.99 if step > 1 else 0.999)


def test_float_beyond_full_scale_is_kept_and_gives_the_same_features(tmp_path, reference):
  signal, int16_copy = reference
  path = _write(tmp_path / "loud.wav", 1.5 * signal, "WAV", "FLOAT")
  samples = read_audio(path, RATE)
  expected = (1.5 * signal).astype(np.float32).astype(np.float64) * 32768
  np.testing.assert_allclose(samples, expected, rtol=1e-6)
  assert np.max(np.abs(samples)) > 32768  # not clipped
  assert np.corrcoef(_features(samples), _features(int16_copy.astype(np.float32)))[0, 1] > 0.999


def test_float_stereo_and_resampled_match_the_16_bit_copy(tmp_path, reference):
  signal, _ = reference
  stereo = np.stack([signal, 0.5 * signal], axis=1)
  float_path = _write(tmp_path / "stereo.wav", stereo, "WAV", "FLOAT", rate=8000)
  pcm_path = _write(tmp_path / "stereo16.wav", stereo, "WAV", "PCM_16", rate=8000)
  from_float, from_pcm = read_audio(float_path, RATE), read_audio(pcm_path, RATE)
  assert len(from_float) == 2 * len(signal)
  # Each channel is rounded once in the 16-bit copy (<= 1 step each); the resampling filter's gain stays small.
  assert np.max(np.abs(from_float - from_pcm)) <= 2


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_non_finite_float_samples_are_an_error_naming_the_file(tmp_path, reference, bad_value):
  signal = reference[0].copy()
  signal[1234] = bad_value
  for subtype in ("FLOAT", "DOUBLE"):
    path = _write(tmp_path / "bad_{}.wav".format(subtype), signal, "WAV", subtype)
    with pytest.raises(ValueError, match=r"bad_{}\.wav \(WAV {}\) holds 1 non-finite".format(subtype, subtype)):
      read_audio(path, RATE)


def test_double_beyond_float32_range_is_an_error(tmp_path, reference):
  signal = reference[0].copy()
  signal[:3] = 1e300
  path = _write(tmp_path / "huge.wav", signal, "WAV", "DOUBLE")
  with pytest.raises(ValueError, match=r"huge\.wav .* holds 3 non-finite"):
    read_audio(path, RATE)


@pytest.mark.parametrize("subtype", ["PCM_16", "FLOAT"])
def test_zero_samples_is_an_error_naming_the_file(tmp_path, subtype):
  path = _write(tmp_path / "empty.wav", np.zeros(0), "WAV", subtype)
  with pytest.raises(ValueError, match=r"empty\.wav is empty"):
    read_audio(path, RATE)


# Lossy codecs: the decoded waveform differs, but its level must be the 16-bit copy's (a wrong scale factor
# shows as a ratio of 256 or 1/32768) and its features must follow the copy's. GSM 6.10, G.721 and NMS ADPCM
# cannot seek in libsndfile, so soundfile refuses a whole-file read of them. (container, subtype, extension)
LOSSY = [("OGG", "VORBIS", "ogg"), ("OGG", "OPUS", "opus"), ("MP3", "MPEG_LAYER_III", "mp3"),
         ("WAV", "GSM610", "wav"), ("WAV", "G721_32", "wav"), ("AU", "G723_24", "au"),
         ("WAV", "NMS_ADPCM_32", "wav"), ("WAV", "IMA_ADPCM", "wav"), ("WAV", "MS_ADPCM", "wav")]


@pytest.mark.parametrize("fmt,subtype,extension", LOSSY, ids=["{}-{}".format(f, s) for f, s, _ in LOSSY])
def test_lossy_codecs_read_at_the_level_of_the_16_bit_copy(tmp_path, reference, fmt, subtype, extension):
  signal, int16_copy = reference
  path = str(tmp_path / "x.{}".format(extension))
  try:
    sf.write(path, signal, RATE, format=fmt, subtype=subtype)
  except (RuntimeError, ValueError, TypeError) as error:
    pytest.skip("this libsndfile cannot write {} {}: {}".format(fmt, subtype, error))
  samples = read_audio(path, RATE)
  # The pre-flight scan must pass what reads well (codecs that cannot seek skip its last-frame check).
  header = probe_audio(path)
  assert header.reason is None and header.frames == sf.info(path).frames, header
  # Block codecs pad the last block (ADPCM blocks hold up to 1017 frames at this rate).
  assert abs(len(samples) - len(int16_copy)) <= 1024
  n = min(len(samples), len(int16_copy))
  rms_ratio = np.sqrt(np.mean(np.square(samples[:n], dtype=np.float64)) / np.mean(np.square(int16_copy[:n])))
  assert 0.85 < rms_ratio < 1.15
  # 0.86 for 24 kbit/s G.723 (the coarsest here); an undecoded or misaligned stream stays far below.
  correlation = np.corrcoef(speech_features(samples[:n], RATE, 64, "logfbank").ravel(),
                            speech_features(int16_copy[:n].astype(np.float32), RATE, 64, "logfbank").ravel())[0, 1]
  assert correlation > 0.8

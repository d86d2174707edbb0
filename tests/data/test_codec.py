"""The speech-codec augmentation checked against the codecs' specifications: the AMR storage format's frame
sizes (RFC 4867, 3GPP TS 26.101), the 8 kHz band, G.711's quantisation noise against continuous mu-law
companding computed in numpy; determinism and its errors."""
import math

import numpy as np
import pytest

from open_seq2seq.data.speech2text.augmentation import SignalAugmenter, perturb_signal, validate_augmentation
from open_seq2seq.data.speech2text.augmentation import codec

RATE = 16000
# Speech bits per 20-ms frame of AMR-NB modes 0-7 (3GPP TS 26.101 table 1: 4.75 ... 12.2 kbit/s x 20 ms); SID
# frames carry 39 bits, NO_DATA frames none.
AMR_SPEECH_BITS = (95, 103, 118, 134, 148, 159, 204, 244)
AMR_SID, AMR_NO_DATA, AMR_SID_BITS = 8, 15, 39


def _voiced(seconds=2.0, rate=RATE, seed=0):
  """A vowel-like test signal: harmonics of a gliding 110-190 Hz pitch up to 7.5 kHz, 1/k amplitudes, a 4 Hz
  syllable envelope, a little noise."""
  t = np.arange(int(seconds * rate)) / rate
  phase = 2 * np.pi * np.cumsum(150 + 40 * np.sin(2 * np.pi * 0.7 * t)) / rate
  harmonics = sum(np.sin(k * phase) / k for k in range(1, int(7500 / 190)))
  envelope = 0.3 + 0.7 * np.abs(np.sin(2 * np.pi * 2 * t))
  noise = 0.01 * np.random.default_rng(seed).standard_normal(len(t))
  return (0.3 * harmonics * envelope + noise).astype(np.float32)


def _band_energy(signal, low, high, rate=RATE):
  """Energy between ``low`` and ``high`` Hz of the Hann-windowed signal (no leakage from a cut end)."""
  spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal)))) ** 2
  freqs = np.fft.rfftfreq(len(signal), 1.0 / rate)
  return spectrum[(freqs >= low) & (freqs < high)].sum()


def _amr_frames(data):
  """Frame types of an AMR storage-format stream, parsed by the RFC 4867 layout (header octet: frame type in
  bits 6-3, then the frame's bits rounded up to octets). Fails the test on a short or malformed stream."""
  assert data[:6] == b"#!AMR\n"
  sizes = {mode: 1 + math.ceil(bits / 8) for mode, bits in enumerate(AMR_SPEECH_BITS)}
  sizes.update({AMR_SID: 1 + math.ceil(AMR_SID_BITS / 8), AMR_NO_DATA: 1})
  position, types = 6, []
  while position < len(data):
    frame_type = (data[position] >> 3) & 0x0F
    assert frame_type in sizes, "frame type {} at byte {}".format(frame_type, position)
    types.append(frame_type)
    position += sizes[frame_type]
  assert position == len(data)
  return types


@pytest.mark.parametrize("mode", [0, 3, 7])
def test_amr_nb_stream_has_the_mode_s_frames_every_20_ms(mode):
  signal = _voiced()
  types = _amr_frames(codec.encode(signal, RATE, "amr-nb", mode))
  assert abs(len(types) - len(signal) / RATE / 0.020) <= 1
  assert set(types) <= {mode, AMR_SID, AMR_NO_DATA}
  assert types.count(mode) >= 0.9 * len(types)  # voiced throughout: hardly any comfort-noise frames


@pytest.mark.parametrize("name", sorted(codec.CODECS))
def test_round_trip_keeps_length_level_and_only_the_telephone_band(name):
  signal = _voiced()
  out = codec.transcode(signal, RATE, name, mode=7)
  assert out.shape == signal.shape and out.dtype == np.float32
  # nothing above the 8 kHz channel's Nyquist frequency survives (sox's resampler: > 100 dB stopband)
  assert _band_energy(out, 4100, 8001) < 1e-4 * _band_energy(signal, 4100, 8001)
  in_band = _band_energy(out, 300, 3400) / _band_energy(signal, 300, 3400)
  assert 10 * math.log10(in_band) == pytest.approx(0.0, abs=1.0 if name == "g711" else 3.0)


def _snr_db(reference, degraded):
  return 10 * math.log10(np.sum(reference.astype(np.float64) ** 2) /
                         np.sum((degraded.astype(np.float64) - reference) ** 2))


def test_g711_noise_is_that_of_8_bit_mu_law_companding():
  # At 8 kHz no resampling happens: the round trip is G.711's quantiser alone. Its segmented (13-segment) law
  # approximates continuous mu-law (mu = 255) quantised to 8 bits, computed here in numpy.
  rate = 8000
  signal = _voiced(rate=rate)
  scaled = signal * np.float32(10 ** (codec.PEAK_DBFS / 20) / np.max(np.abs(signal)))
  mu = 255.0
  compressed = np.sign(scaled) * np.log1p(mu * np.abs(scaled)) / np.log1p(mu)
  levels = np.round(compressed * 127.5 - 0.5) + 0.5  # 256 mid-rise levels
  expanded = np.sign(levels) * np.expm1(np.abs(levels / 127.5) * np.log1p(mu)) / mu
  reference_snr = _snr_db(scaled, expanded)
  out = codec.transcode(signal, rate, "g711")
  codec_snr = _snr_db(signal, out)
  assert 30 < reference_snr < 42
  assert codec_snr == pytest.approx(reference_snr, abs=1.5)


def test_amr_nb_is_a_lossy_coder_not_a_filter():
  # Against the same signal through the telephone band alone, the codec adds noise: lower rates more of it.
  signal = _voiced(seconds=3.0)
  band_only = codec.transcode(signal, RATE, "g711")
  snr_by_mode = [_snr_db(band_only, codec.transcode(signal, RATE, "amr-nb", mode)) for mode in (0, 7)]
  assert all(snr < 20 for snr in snr_by_mode)
  assert snr_by_mode[0] < snr_by_mode[1]


def test_silence_needs_no_codec(monkeypatch):
  monkeypatch.setattr(codec, "SOX", "/nonexistent/sox")
  np.testing.assert_array_equal(codec.transcode(np.zeros(800, np.float32), RATE, "amr-nb"), np.zeros(800))


def test_same_seed_same_output_and_seeds_differ():
  signal = _voiced(seconds=1.0)
  augmentation = {"codec_prob": 1.0}
  outputs = [perturb_signal(signal, augmentation, np.random.default_rng(seed)) for seed in [0] + list(range(10))]
  np.testing.assert_array_equal(outputs[0], outputs[1])
  # ten draws of 9 codec settings (G.711, AMR-NB modes 0-7), each setting deterministic
  assert len({out.tobytes() for out in outputs[1:]}) >= 4


def test_bad_codec_names_the_key():
  with pytest.raises(ValueError, match=r"augmentation/codecs=\['gsm'\]: expected a non-empty list of codecs"):
    validate_augmentation({"codec_prob": 0.1, "codecs": ["gsm"]}, 64)
  with pytest.raises(ValueError, match="unknown codec 'opus'"):
    codec.encode(_voiced(0.1), RATE, "opus")
  with pytest.raises(ValueError, match="AMR-NB mode must be 0-7, got 8"):
    codec.encode(_voiced(0.1), RATE, "amr-nb", 8)


@pytest.mark.parametrize("sox, reason", [("/nonexistent/sox", "needs sox on the PATH"),
                                         ("false", "sox exited with status 1")])
def test_a_sox_without_the_codec_fails_when_the_augmenter_is_built(monkeypatch, sox, reason):
  monkeypatch.setattr(codec, "SOX", sox)
  with pytest.raises(ValueError, match="codec 'amr-nb'.*" + reason) as error:
    SignalAugmenter({"codec_prob": 0.05, "codecs": ["amr-nb"]}, RATE)
  assert "\n" not in str(error.value)
  SignalAugmenter({"codec_prob": 0.0}, RATE)

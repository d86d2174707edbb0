"""Log-mel filterbank features (spec 3.4) against an independent librosa recomputation."""
import librosa
import numpy as np
import pytest
import tensorflow as tf

from open_seq2seq.data.speech2text import features as F

tf.compat.v1.disable_eager_execution()

SR = 16000
N_FFT, HOP, WIN = 512, 160, 320


def _signal(num_samples, seed=0):
  """int16-range test audio: a chirp-like tone mix plus noise (no silent stretches)."""
  rng = np.random.RandomState(seed)
  t = np.arange(num_samples) / SR
  x = 6000 * np.sin(2 * np.pi * 440 * t) + 3000 * np.sin(2 * np.pi * 2500 * t + 0.3)
  x += rng.normal(0, 800, num_samples)
  return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def _reference(samples, window=np.hanning, per_feature=True, eps=1e-5, n_mels=64):
  """Spec 3.4 steps 2, 7-12 with librosa, independent of the code under test."""
  x = samples.astype(np.float32)
  x = x * np.float32(1.0 / (np.max(np.abs(x)) + 1e-5))
  y = np.append(x[0], x[1:] - 0.97 * x[:-1]).astype(np.float32)
  stft = librosa.stft(y=y, n_fft=N_FFT, hop_length=HOP, win_length=WIN, window=window, center=True,
                      pad_mode="reflect")
  power = np.abs(stft).astype(np.float64) ** 2
  mel = librosa.filters.mel(sr=SR, n_fft=N_FFT, n_mels=n_mels, fmin=0, fmax=8000, htk=False, norm="slaney",
                            dtype=np.float64)
  feat = np.log(mel @ power + 1e-20).T
  if per_feature:
    mean, std = feat.mean(axis=0), feat.std(axis=0)
  else:
    mean, std = feat.mean(), feat.std()
  return (feat - mean) / (std + eps)


def test_hz_mel_round_trip_matches_librosa():
  freqs = np.array([0.0, 50.0, 200.0, 999.0, 1000.0, 1001.0, 3000.0, 8000.0])
  np.testing.assert_allclose(F.hz_to_mel(freqs), librosa.hz_to_mel(freqs, htk=False), rtol=1e-10, atol=1e-10)
  mels = np.linspace(0, 45, 17)
  np.testing.assert_allclose(F.mel_to_hz(mels), librosa.mel_to_hz(mels, htk=False), rtol=1e-10, atol=1e-8)


@pytest.mark.parametrize("n_mels", [64, 40])
def test_mel_basis_matches_librosa_slaney(n_mels):
  expected = librosa.filters.mel(sr=SR, n_fft=N_FFT, n_mels=n_mels, fmin=0, fmax=8000, htk=False,
                                 norm="slaney", dtype=np.float64)
  got = np.asarray(F.mel_basis(SR, N_FFT, n_mels))
  assert got.shape == (n_mels, 257)
  np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)


def test_power_spectrogram_matches_librosa_stft():
  y = (_signal(3000).astype(np.float32) / 20000.0)
  expected = np.abs(librosa.stft(y=y, n_fft=N_FFT, hop_length=HOP, win_length=WIN, window=np.hanning,
                                 center=True, pad_mode="reflect")) ** 2
  got = F.power_spectrogram(y, N_FFT, WIN, HOP, np.hanning)
  assert got.shape == (257, 1 + 3000 // HOP)
  np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * expected.max())


@pytest.mark.parametrize("per_feature", [True, False])
def test_logfbank_matches_librosa_pipeline(per_feature):
  samples = _signal(8000 + 37)
  got = F.logfbank_features(samples, SR, 64, window_size=20e-3, window_stride=10e-3, window="hanning",
                            dither=0.0, norm_per_feature=per_feature, norm_epsilon=1e-5)
  expected = _reference(samples, per_feature=per_feature)
  assert got.dtype == np.float32
  assert got.shape == expected.shape == (1 + len(samples) // HOP, 64)
  np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_global_normalisation_statistics():
  got = F.logfbank_features(_signal(4000, seed=3), SR, 64, dither=0.0, norm_per_feature=False,
                            norm_epsilon=0.0)
  assert abs(float(got.mean())) < 1e-4
  assert abs(float(got.std()) - 1.0) < 1e-4
  # Global (not per-column) normalisation: individual columns are not zero-mean.
  assert np.max(np.abs(got.mean(axis=0))) > 0.05


def test_per_feature_normalisation_statistics():
  got = F.logfbank_features(_signal(4000, seed=4), SR, 64, dither=0.0, norm_per_feature=True,
                            norm_epsilon=0.0)
  np.testing.assert_allclose(got.mean(axis=0), 0.0, atol=1e-4)
  np.testing.assert_allclose(got.std(axis=0), 1.0, atol=1e-4)


@pytest.mark.parametrize("window_name,window_fn", [("hamming", np.hamming),
                                                    ("none", lambda n: np.ones(n))])
def test_other_windows_match_librosa(window_name, window_fn):
  samples = _signal(5000, seed=1)
  got = F.logfbank_features(samples, SR, 64, window=window_name, dither=0.0, norm_per_feature=True,
                            norm_epsilon=1e-5)
  expected = _reference(samples, window=window_fn, per_feature=True)
  np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_window_choice_matters():
  samples = _signal(5000, seed=1)
  hann = F.logfbank_features(samples, SR, 64, window="hanning", norm_per_feature=True)
  hamm = F.logfbank_features(samples, SR, 64, window="hamming", norm_per_feature=True)
  assert np.max(np.abs(hann - hamm)) > 1e-2


@pytest.mark.parametrize("num_samples", [1600, 1601, 1759, 1760, 16037])
def test_frame_count(num_samples):
  got = F.logfbank_features(_signal(num_samples, seed=2), SR, 64, dither=0.0)
  assert got.shape == (1 + num_samples // 160, 64)


def test_dither_with_seeded_rng():
  samples = _signal(6000, seed=5)
  clean = F.logfbank_features(samples, SR, 64, dither=0.0, norm_per_feature=True)
  d1 = F.logfbank_features(samples, SR, 64, dither=1e-5, norm_per_feature=True,
                           rng=np.random.default_rng(123))
  d2 = F.logfbank_features(samples, SR, 64, dither=1e-5, norm_per_feature=True,
                           rng=np.random.default_rng(123))
  d3 = F.logfbank_features(samples, SR, 64, dither=1e-5, norm_per_feature=True,
                           rng=np.random.default_rng(7))
  np.testing.assert_array_equal(d1, d2)  # same seed -> identical
  diff = np.max(np.abs(d1 - clean))
  assert 0 < diff < 1e-2  # dither changes the output, but only slightly
  assert np.max(np.abs(d1 - d3)) > 0


def test_silence_is_finite():
  got = F.logfbank_features(np.zeros(3200, np.int16), SR, 64, dither=0.0, norm_per_feature=True,
                            norm_epsilon=1e-5)
  assert np.all(np.isfinite(got))
  np.testing.assert_allclose(got, 0.0, atol=1e-6)


def _librosa_power(y, n_fft, win_length, hop_length):
  return np.abs(librosa.stft(y=y, n_fft=n_fft, hop_length=hop_length, win_length=win_length,
                             window=np.hanning, center=True, pad_mode="reflect")) ** 2


@pytest.mark.parametrize("per_feature", [True, False])
def test_spectrogram_matches_librosa(per_feature):
  samples = _signal(6000, seed=11)
  x = samples.astype(np.float32) / (np.max(np.abs(samples)) + 1e-5)
  power = _librosa_power(x, 320, 320, 160)
  expected = 10 * np.log10(np.maximum(power, 1e-30)).T[:, :100]
  axis = 0 if per_feature else None
  expected = (expected - expected.mean(axis=axis)) / (expected.std(axis=axis) + 1e-5)
  got = F.speech_features(samples, SR, 100, "spectrogram", norm_per_feature=per_feature)
  assert got.shape == (1 + 6000 // 160, 100)
  np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_mfcc_matches_librosa_mfcc_on_the_power_spectrogram():
  samples = _signal(6000, seed=12)
  x = samples.astype(np.float32) / (np.max(np.abs(samples)) + 1e-5)
  y = np.append(x[0], x[1:] - 0.97 * x[:-1]).astype(np.float32)
  power = _librosa_power(y, 512, 320, 160)
  # The reference passes the power spectrogram as S, where librosa expects a log-mel spectrogram.
  expected = librosa.feature.mfcc(S=power, n_mfcc=40, n_mels=80).T
  expected = (expected - expected.mean(axis=0)) / (expected.std(axis=0) + 1e-5)
  got = F.speech_features(samples, SR, 40, "mfcc", norm_per_feature=True)
  assert got.shape == (1 + 6000 // 160, 40)
  np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-3)


def test_unknown_input_type_is_refused():
  with pytest.raises(ValueError, match="input_type must be one of"):
    F.speech_features(_signal(2000, seed=1), SR, 64, "cepstrum")


def _slaney_filterbank_at(freqs, n_mels, sample_freq):
  """Slaney-normalised triangular mel filters evaluated at the frequencies ``freqs`` (Hz), from the definition:
  the Slaney mel scale is linear (3 per 200 Hz) below 1 kHz and steps by a factor 6.4^(1/27) above."""
  def to_mel(f):
    f = np.asarray(f, dtype=np.float64)
    return np.where(f < 1000, 3 * f / 200, 15 + 27 * np.log(np.maximum(f, 1e-10) / 1000) / np.log(6.4))

  def to_hz(m):
    return np.where(m < 15, 200 * m / 3, 1000 * 6.4 ** ((m - 15) / 27))

  edges = to_hz(np.linspace(0, to_mel(sample_freq / 2), n_mels + 2))
  bank = np.zeros((n_mels, len(freqs)))
  for m in range(n_mels):
    left, centre, right = edges[m:m + 3]
    rising = (freqs - left) / (centre - left)
    falling = (right - freqs) / (right - centre)
    bank[m] = np.clip(np.minimum(rising, falling), 0, None) * 2 / (right - left)
  return bank


def _jaitly_hinton_warp(freqs, alpha, sample_freq, f_hi=4800.0):
  nyquist = sample_freq / 2
  boundary = f_hi * min(alpha, 1) / alpha
  return np.array([alpha * f if f <= boundary else
                   nyquist - (nyquist - alpha * boundary) / (nyquist - boundary) * (nyquist - f) for f in freqs])


@pytest.mark.parametrize("alpha", [0.9, 0.95, 1.08, 1.1])
def test_vtlp_filterbank_is_the_slaney_bank_at_warped_bin_frequencies(alpha):
  bins = np.linspace(0, SR / 2, N_FFT // 2 + 1)
  warped = _jaitly_hinton_warp(bins, alpha, SR)
  assert warped[-1] == pytest.approx(SR / 2) and np.all(np.diff(warped) > 0)
  expected = _slaney_filterbank_at(warped, 64, SR)
  np.testing.assert_allclose(F.mel_basis(SR, N_FFT, 64, vtlp_alpha=alpha), expected, rtol=1e-9, atol=1e-12)


def test_vtlp_alpha_one_is_the_plain_filterbank_and_features():
  np.testing.assert_array_equal(F.mel_basis(SR, N_FFT, 64, vtlp_alpha=1.0), F.mel_basis(SR, N_FFT, 64))
  samples = _signal(8000).astype(np.float32)
  np.testing.assert_array_equal(F.speech_features(samples, SR, 64, vtlp_alpha=1.0), F.speech_features(samples, SR, 64))
  assert not np.array_equal(F.speech_features(samples, SR, 64, vtlp_alpha=1.1), F.speech_features(samples, SR, 64))
  with pytest.raises(ValueError, match="vtlp_alpha=1.1 needs input_type='logfbank'"):
    F.speech_features(samples, SR, 40, "mfcc", vtlp_alpha=1.1)


@pytest.mark.parametrize("alpha", [0.9, 1.1])
def test_vtlp_moves_a_low_filter_centre_by_one_over_alpha(alpha):
  n_fft = 2 ** 14
  bins = np.linspace(0, SR / 2, n_fft // 2 + 1)
  plain, warped = F.mel_basis(SR, n_fft, 64), F.mel_basis(SR, n_fft, 64, vtlp_alpha=alpha)
  for band in (5, 20, 35):
    centre = bins[np.argmax(plain[band])]
    assert bins[np.argmax(warped[band])] == pytest.approx(centre / alpha, abs=SR / n_fft)

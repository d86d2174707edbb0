"""Channel effects: a telephone band, Butterworth low/high/band-pass filters and peaking-EQ bands.

Filter designs are cached per (kind, order, cutoff bucket) so an utterance pays only for the filtering;
cutoffs are drawn on a grid of 1/24 octave, finer than any audible difference a training set needs.
"""
import functools
import math

import numpy as np
from scipy.signal import butter, firwin, resample_poly, sosfilt

TELEPHONE_RATE = 8000
# Anti-aliasing FIR of the 8 kHz round trip, at the wide rate: passband to 3.3 kHz, transition to 4 kHz (Kaiser,
# ~48 dB per pass), 4 taps per kHz of sample_freq (65 at 16 kHz). resample_poly's default 41-tap filter costs
# about the same but its transition straddles 4 kHz: -23 dB of the energy above 4 kHz got through.
_TELEPHONE_PASS_HZ = 3300.0
_TELEPHONE_TAPS_PER_KHZ = 4
CUTOFFS_PER_OCTAVE = 24
EQ_CENTRE_HZ = (150.0, 6000.0)
EQ_Q = (0.7, 2.0)


@functools.lru_cache(maxsize=8)
def _telephone_fir(sample_freq):
  numtaps = int(_TELEPHONE_TAPS_PER_KHZ * sample_freq / 1000) | 1
  fir = firwin(numtaps, (_TELEPHONE_PASS_HZ + TELEPHONE_RATE / 2) / 2, width=TELEPHONE_RATE / 2 - _TELEPHONE_PASS_HZ,
               fs=sample_freq)
  fir.flags.writeable = False
  return fir


def telephone(signal, sample_freq, highpass_hz=300.0):
  """``signal`` through an 8 kHz channel with a 4th-order high-pass, back at ``sample_freq``."""
  divisor = math.gcd(TELEPHONE_RATE, sample_freq)
  up, down = TELEPHONE_RATE // divisor, sample_freq // divisor
  # The FIR runs at up * sample_freq: designed here for rates that are multiples of 8 kHz (up == 1).
  window = _telephone_fir(sample_freq) if up == 1 else ("kaiser", 5.0)
  narrow = resample_poly(signal, up, down, window=window)
  if highpass_hz > 0:  # at 8 kHz: half the samples to filter
    narrow = sosfilt(butterworth_sos("highpass", 4, highpass_hz, TELEPHONE_RATE), narrow)
  wide = resample_poly(narrow, down, up, window=window)
  return np.pad(wide[:len(signal)], (0, max(0, len(signal) - len(wide)))).astype(np.float32)


def cutoff_bucket(cutoff_hz):
  """``cutoff_hz`` rounded to the 1/24-octave grid the filter designs are cached on."""
  return 2.0 ** (round(math.log2(cutoff_hz) * CUTOFFS_PER_OCTAVE) / CUTOFFS_PER_OCTAVE)


@functools.lru_cache(maxsize=1024)
def butterworth_sos(kind, order, cutoff_hz, sample_freq):
  """Second-order sections of a digital Butterworth ``kind`` ("lowpass"/"highpass") filter (shared: do not
  modify; sosfilt needs it writable)."""
  return butter(order, min(cutoff_hz, 0.49 * sample_freq), btype=kind, fs=sample_freq, output="sos")


def peaking_eq_sos(centre_hz, gain_db, q, sample_freq):
  """One second-order section: the RBJ audio-EQ-cookbook peaking filter (``gain_db`` at ``centre_hz``,
  0 dB at DC and Nyquist)."""
  amplitude = 10.0 ** (gain_db / 40.0)
  omega = 2 * math.pi * centre_hz / sample_freq
  alpha = math.sin(omega) / (2 * q)
  cos = math.cos(omega)
  b = np.array([1 + alpha * amplitude, -2 * cos, 1 - alpha * amplitude])
  a = np.array([1 + alpha / amplitude, -2 * cos, 1 - alpha / amplitude])
  return np.concatenate([b / a[0], a / a[0]])[None, :]


def random_filter_sos(rng, lowpass_range, highpass_range, sample_freq):
  """A low-, high- or band-pass (equally likely) of order 2-6 with cutoffs uniform in the ranges."""
  kind = ("lowpass", "highpass", "bandpass")[rng.integers(3)]
  order = int(rng.integers(2, 7))
  sections = []
  if kind in ("highpass", "bandpass"):
    sections.append(butterworth_sos("highpass", order, cutoff_bucket(rng.uniform(*highpass_range)), sample_freq))
  if kind in ("lowpass", "bandpass"):
    sections.append(butterworth_sos("lowpass", order, cutoff_bucket(rng.uniform(*lowpass_range)), sample_freq))
  return np.concatenate(sections)


def random_eq_sos(rng, gain_db_range, sample_freq):
  """1-3 peaking bands, centres log-uniform in EQ_CENTRE_HZ (below 0.45 * sample_freq), Q uniform in EQ_Q."""
  top = min(EQ_CENTRE_HZ[1], 0.45 * sample_freq)
  bands = []
  for _ in range(int(rng.integers(1, 4))):
    centre = math.exp(rng.uniform(math.log(EQ_CENTRE_HZ[0]), math.log(top)))
    bands.append(peaking_eq_sos(centre, rng.uniform(*gain_db_range), rng.uniform(*EQ_Q), sample_freq))
  return np.concatenate(bands)


def apply_sos(signal, sos):
  """``signal`` filtered by the second-order sections ``sos`` (scipy sosfilt), as float32."""
  return sosfilt(sos, signal).astype(np.float32)

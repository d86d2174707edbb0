"""The signal chain of one data layer, in its fixed order: speed -> reverb -> noise, babble -> telephone,
codec, filter, EQ -> gain; and the draw of the VTLP warp factor that the features then use."""
import numpy as np
import soxr

from . import channel, codec, noise, room_impulse
from .params import KEYS, alters_signal, setting


class SignalAugmenter:
  """Applies the signal-level keys of ``augmentation`` to a float32 signal with a per-utterance Generator.

  ``babble_paths``/``read``: the audio files babble is drawn from and the function reading one (needed when
  ``babble_prob`` > 0); ``rir_cache_dir``: where the room bank is cached unless the dict names a folder.
  """

  def __init__(self, augmentation, sample_freq=16000, babble_paths=(), read=None, rir_cache_dir=None):
    augmentation = augmentation or {}
    self._settings = {name: setting(augmentation, name) for name in KEYS}
    self._noise_level = "noise_level_min" in augmentation
    self._sample_freq = sample_freq
    self._babble_paths = list(babble_paths)
    self._read = read
    self._rir_cache_dir = self._settings["rir_cache_dir"] or rir_cache_dir
    self.alters_signal = alters_signal(augmentation)
    if self._settings["babble_prob"] > 0 and (len(self._babble_paths) < 2 or read is None):
      raise ValueError("augmentation: babble_prob needs at least 2 training utterances to draw babble from")
    if self._settings["reverb_prob"] > 0 and not self._rir_cache_dir:
      raise ValueError("augmentation: reverb_prob needs rir_cache_dir (folder of the room-bank cache)")
    if self._settings["reverb_prob"] > 0:
      # Now rather than at the first reverberated utterance: a cache folder that cannot be written is a config
      # error named here, not a failure inside the input pipeline.
      self._room_bank()
    if self._settings["codec_prob"] > 0:
      codec.check_codecs(self._settings["codecs"], sample_freq)

  def _room_bank(self):
    s = self._settings
    try:
      return room_impulse.rir_bank(self._rir_cache_dir, s["rt60_range"], s["rir_bank_size"], s["rir_bank_seed"],
                                   self._sample_freq)
    except OSError as error:
      raise ValueError("augmentation: rir_cache_dir={!r}: cannot write the room-bank cache there ({})".format(
          self._rir_cache_dir, error)) from error

  def _happens(self, rng, name):
    prob = self._settings[name]
    return prob > 0 and rng.random() < prob

  def __call__(self, signal, rng, path=None):
    """The augmented signal (float32; the same length unless speed perturbation resampled it). ``path``: the
    utterance's own file, never drawn into its babble."""
    s = self._settings
    signal = self._speed(signal, rng)
    if self._happens(rng, "reverb_prob"):
      bank = self._room_bank()
      index = int(rng.integers(len(bank)))
      signal = room_impulse.reverberate(signal, bank.rirs[index], bank.direct[index])
    if self._happens(rng, "noise_prob"):
      color = s["noise_colors"][rng.integers(len(s["noise_colors"]))]
      snr_db = rng.uniform(*s["noise_snr_db_range"])
      signal = noise.mix_at_snr(signal, noise.colored_noise(color, len(signal), rng), snr_db)
    if self._happens(rng, "babble_prob"):
      count = int(rng.integers(s["babble_speakers_range"][0], s["babble_speakers_range"][1] + 1))
      snr_db = rng.uniform(*s["babble_snr_db_range"])
      babble = noise.babble(self._babble_paths, self._read, count, len(signal), rng, exclude=path)
      signal = noise.mix_at_snr(signal, babble, snr_db)
    if self._noise_level:
      level_db = rng.integers(s["noise_level_min"], s["noise_level_max"])
      signal = signal + rng.standard_normal(signal.shape).astype(np.float32) * np.float32(10.0 ** (level_db / 20.0))
    if self._happens(rng, "telephone_prob"):
      signal = channel.telephone(signal, self._sample_freq, s["telephone_highpass_hz"])
    if self._happens(rng, "codec_prob"):
      name = s["codecs"][rng.integers(len(s["codecs"]))]
      mode = int(rng.integers(len(codec.AMR_NB_FRAME_BYTES))) if name == "amr-nb" else 0
      signal = codec.transcode(signal, self._sample_freq, name, mode)
    if self._happens(rng, "filter_prob"):
      signal = channel.apply_sos(signal, channel.random_filter_sos(rng, s["lowpass_hz_range"], s["highpass_hz_range"],
                                                                   self._sample_freq))
    if self._happens(rng, "eq_prob"):
      signal = channel.apply_sos(signal, channel.random_eq_sos(rng, s["eq_gain_db_range"], self._sample_freq))
    if self._happens(rng, "gain_prob"):
      signal = signal * np.float32(10.0 ** (rng.uniform(*s["gain_db_range"]) / 20.0))
    return signal

  def _speed(self, signal, rng):
    """Resampled by the drawn factor and played back at the original rate (tempo and pitch change).

    libsoxr at its high quality, as librosa 0.10 resamples by default: 0.54-0.60 ms of CPU per 3-s utterance
    against 1.21-1.28 ms for scipy's resample_poly at the factor's smallest fraction (README, "The main job's
    training step"; the reference uses resampy's kaiser_fast)."""
    ratio_spec = self._settings["speed_perturbation_ratio"]
    if ratio_spec is None:
      return signal
    if isinstance(ratio_spec, (list, tuple)):
      ratio = float(ratio_spec[rng.integers(len(ratio_spec))])
    else:
      ratio = 1.0 + rng.uniform(-1.0, 1.0) * float(ratio_spec)
    if ratio > 0 and ratio != 1.0:
      signal = soxr.resample(np.asarray(signal, dtype=np.float32), 1.0, ratio, quality="HQ")
    return signal

  def vtlp_alpha(self, rng):
    """The warp factor of this utterance's mel filterbank (1.0: none), rounded to 3 decimals so the warped
    filterbanks stay few enough to cache."""
    if self._happens(rng, "vtlp_prob"):
      return round(float(rng.uniform(*self._settings["vtlp_warp_range"])), 3)
    return 1.0


def perturb_signal(signal, augmentation, rng, **context):
  """``SignalAugmenter(augmentation, **context)(signal, rng)``: the signal chain for one call."""
  return SignalAugmenter(augmentation, **context)(signal, rng)

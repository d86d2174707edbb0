"""The keys of the data layer's ``augmentation`` dict: one declaration per key (allowed values, default, one
line of doc). Validation, the defaults the augmentations read and ``describe_augmentation`` all come from it.

Every augmentation is off unless its own key turns it on (a ``*_prob`` above 0, or the legacy keys
``speed_perturbation_ratio``, ``noise_level_min``/``noise_level_max``, ``n_freq_mask``, ``n_time_mask``),
so a config enables any subset and an absent or empty dict augments nothing.
"""
import collections
import numbers

from .codec import CODECS

NOISE_EXPONENTS = {"white": 0.0, "pink": 1.0, "brown": 2.0, "blue": -1.0, "violet": -2.0}


class _Kind(collections.namedtuple("_Kind", "text problem")):
  """``text``: the allowed values in words; ``problem(value)``: None when allowed, else a short reason."""


def _is_number(value, integer=False):
  if isinstance(value, bool) or not isinstance(value, numbers.Real):
    return False
  return isinstance(value, numbers.Integral) or not integer


def _number(low, high, integer=False):
  word = "int" if integer else "number"
  return _Kind("{} in [{}, {}]".format(word, low, high),
               lambda v: None if _is_number(v, integer) and low <= v <= high else "expected a {} in [{}, {}]".format(
                   word, low, high))


def _range(low, high, integer=False):
  word = "ints" if integer else "numbers"

  def problem(value):
    """None if ``value`` is a ``[min, max]`` pair of numbers (ints if ``integer``) with ``low <= min <= max <=
    high``, else the problem text."""
    if (not isinstance(value, (list, tuple)) or len(value) != 2 or not all(_is_number(v, integer) for v in value)
        or not low <= value[0] <= value[1] <= high):
      return "expected [min, max], {} with {} <= min <= max <= {}".format(word, low, high)
    return None

  return _Kind("[min, max] {} in [{}, {}]".format(word, low, high), problem)


SPEED_FACTORS = (0.1, 10.0)  # resampling factors beyond these are no speech-rate change any more


def _speed_problem(value):
  if _is_number(value) and 0 < value <= 1 - SPEED_FACTORS[0]:
    return None
  if isinstance(value, (list, tuple)) and value and all(
      _is_number(v) and SPEED_FACTORS[0] <= v <= SPEED_FACTORS[1] for v in value):
    return None
  return ("expected a number r in (0, {}] (factor uniform in [1 - r, 1 + r]) or a non-empty list of factors in "
          "[{}, {}]".format(1 - SPEED_FACTORS[0], *SPEED_FACTORS))


def _codecs_problem(value):
  if isinstance(value, (list, tuple)) and value and all(v in CODECS for v in value):
    return None
  return "expected a non-empty list of codecs from {}".format(list(CODECS))


def _colors_problem(value):
  if isinstance(value, (list, tuple)) and value and all(v in NOISE_EXPONENTS for v in value):
    return None
  return "expected a non-empty list of colours from {}".format(sorted(NOISE_EXPONENTS))


PROB = _number(0, 1)
SPEED = _Kind("number in (0, 0.9] or list of factors in [0.1, 10]", _speed_problem)
COLORS = _Kind("list of {}".format("/".join(NOISE_EXPONENTS)), _colors_problem)
CODEC_LIST = _Kind("list of {}".format("/".join(CODECS)), _codecs_problem)
FOLDER = _Kind("str or None", lambda v: None if v is None or isinstance(v, str) else "expected a folder path")
DB = _number(-120, 120, integer=True)

Key = collections.namedtuple("Key", "kind default doc")

# In the order the augmentations apply: signal (speed, reverb, noise, channel, gain), filterbank, masks.
KEYS = collections.OrderedDict([
    ("speed_perturbation_ratio", Key(SPEED, None, "resampling factor (tempo and pitch together): r draws it "
                                                  "uniformly in [1 - r, 1 + r], a list picks one; None: off")),
    ("reverb_prob", Key(PROB, 0.0, "probability of convolving with a simulated room impulse response")),
    ("rt60_range", Key(_range(0.1, 1.0), [0.15, 0.7], "seconds: reverberation time of each simulated room")),
    ("rir_bank_size", Key(_number(1, 4096, integer=True), 64, "rooms simulated (image method) once and cached")),
    ("rir_bank_seed", Key(_number(0, 2 ** 31 - 1, integer=True), 0, "seed of the room simulation")),
    ("rir_cache_dir", Key(FOLDER, None, "folder of the room-bank cache; None: <folder of the first dataset "
                                        "file>/rir_cache")),
    ("noise_prob", Key(PROB, 0.0, "probability of adding coloured Gaussian noise at a random SNR")),
    ("noise_snr_db_range", Key(_range(-20, 80), [5.0, 30.0], "dB: SNR of the added noise over the utterance")),
    ("noise_colors", Key(COLORS, ["white", "pink", "blue"], "colours drawn from (PSD slope f^0, f^-1, f^-2, "
                                                           "f^1, f^2 for white, pink, brown, blue, violet)")),
    ("babble_prob", Key(PROB, 0.0, "probability of mixing in other utterances of the training manifests")),
    ("babble_snr_db_range", Key(_range(-20, 80), [10.0, 25.0], "dB: SNR of the babble over the utterance")),
    ("babble_speakers_range", Key(_range(1, 32, integer=True), [3, 7], "how many other utterances make the "
                                                                       "babble, each at equal power")),
    ("noise_level_min", Key(DB, None, "dB: white noise at an absolute level in [min, max) re. the peak-"
                                      "normalised signal (int16 units with backend psf); with noise_level_max")),
    ("noise_level_max", Key(DB, None, "dB: upper end (exclusive) of noise_level_min's range")),
    ("telephone_prob", Key(PROB, 0.0, "probability of a telephone channel: through 8 kHz and back (nothing "
                                      "above 4 kHz remains), then a high-pass")),
    ("telephone_highpass_hz", Key(_number(0, 1000), 300.0, "Hz: cutoff of the telephone channel's 4th-order "
                                                           "Butterworth high-pass; 0: none")),
    ("codec_prob", Key(PROB, 0.0, "probability of a speech-codec round trip at 8 kHz through sox (the codec "
                                  "drawn from codecs; AMR-NB in one of its 8 modes, 4.75-12.2 kbit/s)")),
    ("codecs", Key(CODEC_LIST, ["amr-nb", "g711"], "codecs drawn from: amr-nb (3GPP AMR narrowband, mobile "
                                                   "phones), g711 (ITU-T G.711 mu-law)")),
    ("filter_prob", Key(PROB, 0.0, "probability of a Butterworth low-, high- or band-pass (one of the three "
                                   "at random, order 2-6)")),
    ("lowpass_hz_range", Key(_range(100, 48000), [3500.0, 7500.0], "Hz: cutoff of the low-pass (below "
                                                                   "sample_freq / 2)")),
    ("highpass_hz_range", Key(_range(10, 48000), [50.0, 400.0], "Hz: cutoff of the high-pass (below the "
                                                                "low-pass range)")),
    ("eq_prob", Key(PROB, 0.0, "probability of 1-3 peaking-EQ bands (centre 150 Hz - 6 kHz log-uniform, Q "
                               "0.7-2)")),
    ("eq_gain_db_range", Key(_range(-30, 30), [-10.0, 10.0], "dB: gain of each EQ band at its centre")),
    ("gain_prob", Key(PROB, 0.0, "probability of scaling the signal by a random gain")),
    ("gain_db_range", Key(_range(-40, 40), [-10.0, 10.0], "dB: the gain (matters relative to dither and "
                                                          "noise_level_*: features peak-normalise)")),
    ("vtlp_prob", Key(PROB, 0.0, "probability of vocal-tract-length perturbation (warped mel filterbank; "
                                 "logfbank with backend librosa)")),
    ("vtlp_warp_range", Key(_range(0.5, 2.0), [0.9, 1.1], "warp factor alpha: filters move by 1/alpha below "
                                                          "4.8 kHz * min(alpha, 1) / alpha")),
    ("n_freq_mask", Key(_number(0, 1000, integer=True), 0, "SpecAugment: feature bands zeroed per utterance")),
    ("width_freq_mask", Key(_number(0, 10000, integer=True), 10, "SpecAugment: largest band width (features)")),
    ("n_time_mask", Key(_number(0, 1000, integer=True), 0, "SpecAugment: time spans zeroed per utterance")),
    ("width_time_mask", Key(_number(0, 100000, integer=True), 50, "SpecAugment: largest span width (frames)")),
])

SIGNAL_PROBS = ("reverb_prob", "noise_prob", "babble_prob", "telephone_prob", "codec_prob", "filter_prob", "eq_prob",
                "gain_prob")


def setting(augmentation, name):
  """The value of ``name`` in ``augmentation`` or its declared default."""
  return augmentation.get(name, KEYS[name].default) if augmentation else KEYS[name].default


def alters_signal(augmentation):
  """Whether ``augmentation`` changes anything before SpecAugment (then the feature cache is bypassed)."""
  if not augmentation:
    return False
  return (setting(augmentation, "speed_perturbation_ratio") is not None or "noise_level_min" in augmentation
          or any(setting(augmentation, name) > 0 for name in SIGNAL_PROBS + ("vtlp_prob",)))


# Where the augmentation dict sits in a config, so that errors name the key's full path.
_PATH = "data_layer_params/augmentation"


def validate_augmentation(augmentation, num_features, backend="librosa", input_type="logfbank", sample_freq=16000):
  """Raises a one-line ValueError naming the first key whose value is not allowed."""
  unknown = set(augmentation) - set(KEYS)
  if unknown:
    raise ValueError(_PATH + ": unknown key(s) {}; expected some of {}".format(sorted(unknown), sorted(KEYS)))
  for name, value in augmentation.items():
    problem = KEYS[name].kind.problem(value)
    if problem:
      raise ValueError(_PATH + "/{}={!r}: {}".format(name, value, problem))
  if ("noise_level_min" in augmentation) != ("noise_level_max" in augmentation):
    raise ValueError(_PATH + ": noise_level_min and noise_level_max must be given together")
  if "noise_level_min" in augmentation and not augmentation["noise_level_min"] < augmentation["noise_level_max"]:
    raise ValueError(_PATH + ": noise_level_min={} must be below noise_level_max={}".format(
        augmentation["noise_level_min"], augmentation["noise_level_max"]))
  width = setting(augmentation, "width_freq_mask")
  if width > num_features and ("width_freq_mask" in augmentation or setting(augmentation, "n_freq_mask") > 0):
    raise ValueError(_PATH + "/width_freq_mask={} exceeds num_audio_features={}".format(width, num_features))
  if setting(augmentation, "vtlp_prob") > 0 and (backend != "librosa" or input_type != "logfbank"):
    raise ValueError(_PATH + ": vtlp_prob={} needs backend='librosa' and input_type='logfbank' (it warps the "
                     "mel filterbank), got backend={!r}, input_type={!r}".format(
                         augmentation["vtlp_prob"], backend, input_type))
  nyquist = sample_freq / 2.0
  lowpass, highpass = setting(augmentation, "lowpass_hz_range"), setting(augmentation, "highpass_hz_range")
  if setting(augmentation, "filter_prob") > 0 and not highpass[1] < lowpass[0] <= lowpass[1] < nyquist:
    raise ValueError(_PATH + ": lowpass_hz_range={} and highpass_hz_range={}: expected highpass max < lowpass "
                     "min and lowpass max < sample_freq / 2 = {} Hz".format(lowpass, highpass, nyquist))
  if setting(augmentation, "telephone_prob") > 0 and not 8000 < sample_freq:
    raise ValueError(_PATH + ": telephone_prob needs sample_freq above 8000 Hz, got {}".format(sample_freq))


def describe_augmentation():
  """One line per key: ``name (allowed values, default D): doc``."""
  return ["{} ({}, default {!r}): {}".format(name, key.kind.text, key.default, key.doc) for name, key in KEYS.items()]

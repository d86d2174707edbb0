"""Voice transforms and recording conditions of the synthetic mini corpus (scripts/build_mini_corpus.py).

espeak-ng renders every voice with one formant source, so a model trained on it alone learns that source.
Training speakers therefore get their own timbre on top of espeak-ng's voice+variant:

* a spectral-envelope (formant) scale, done by sox's ``speed`` in the synthesis pipeline (cheap, C code). It
  scales F0 too, but F0 is drawn independently by espeak-ng's own ``-p``, which leaves the formants alone
  (sox's ``pitch`` cannot do that: it resamples, so it moves the formants with F0);
* for a fraction of the speakers, a WORLD vocoder resynthesis (pyworld) that replaces espeak-ng's excitation
  by WORLD's pulse/noise mixture, with more aperiodicity (breathiness), F0 jitter and a warped envelope.

The out-of-domain dev proxy (``dev-other``) uses variants that training never uses and recording conditions
that training-time augmentation never applies: an algorithmic (freeverb) room, a GSM 06.10 phone codec at
8 kHz and brown noise (augmentation draws image-method rooms, band-limiting and white/pink/blue noise).
"""
import ctypes
import ctypes.util
import io
import math
import os
import random
import signal

import numpy as np
import scipy.signal
import soundfile as sf

PROXY_CONDITIONS = ("clean", "room", "phone", "noise")


def draw_timbre(rng, world, word_gaps=False):
  """Random per-speaker timbre parameters (``rng``: random.Random). ``world``: whether to resynthesise;
  ``word_gaps``: whether the speaker pauses between words (espeak-ng -g, units of 10 ms, for 3 speakers in 5).
  The gap is drawn either way, so the other parameters, and the corpus, do not depend on ``word_gaps``."""
  formant_shift = round(rng.uniform(0.88, 1.14), 3)
  word_gap = rng.choice((0, 0, 1, 2, 3))
  timbre = {"formant_shift": formant_shift, "word_gap": word_gap if word_gaps else 0}
  if world:
    timbre["world"] = {
        "envelope_warp": round(rng.uniform(0.92, 1.08), 3),
        "breathiness": round(rng.uniform(0.1, 0.6), 3),
        "jitter": round(rng.uniform(0.005, 0.03), 4),
        "seed": rng.randrange(2 ** 31),
    }
  return timbre


def timbre_sox_effects(speaker):
  """sox effects giving a training speaker its formant scale (empty for held-out speakers): every frequency,
  formants and F0, times ``formant_shift``; normalised to -1 dBFS, as resampling can overshoot."""
  if "formant_shift" not in speaker:
    return []
  return ["speed", "{:.3f}".format(speaker["formant_shift"]), "gain", "-n", "-1"]


def proxy_condition(speaker, utterance_index):
  """(condition name, its parameters) of a dev-other utterance, deterministic in speaker and index."""
  name = PROXY_CONDITIONS[(utterance_index + speaker["speaker"]) % len(PROXY_CONDITIONS)]
  rng = random.Random("proxy-{}-{}".format(speaker["speaker"], utterance_index))
  if name == "room":
    return name, {"reverberance": rng.randint(50, 95), "room_scale": rng.randint(60, 100),
                  "wet_gain_db": rng.randint(-3, 0)}
  if name == "noise":
    return name, {"snr_db": round(rng.uniform(8.0, 20.0), 1), "seed": rng.randrange(2 ** 31)}
  return name, {}


def proxy_sox_effects(name, params):
  """sox effects of a proxy condition applied in the synthesis pipeline (room only)."""
  if name == "room":
    return ["reverb", str(params["reverberance"]), "50", str(params["room_scale"]), "100", "10",
            str(params["wet_gain_db"]), "gain", "-n", "-1"]
  return []


def brown_noise(num_samples, rng):
  """Unit-variance brown (1/f^2) noise: white noise through a leaky integrator (pole 0.995, corner ~13 Hz at
  16 kHz, so the walk does not drift)."""
  noise = scipy.signal.lfilter([1.0], [1.0, -0.995], rng.standard_normal(num_samples + 2000))[2000:]
  return noise / (np.std(noise) + 1e-12)


def add_noise_at_snr(signal, noise, snr_db):
  """``signal + g * noise`` with g set so that 10*log10(P_signal / P_noise) equals ``snr_db``."""
  signal_power = np.mean(np.square(signal))
  noise_power = np.mean(np.square(noise)) + 1e-20
  return signal + noise * math.sqrt(signal_power / (noise_power * 10 ** (snr_db / 10.0)))


def breathy_aperiodicity(num_frames, num_bins, breathiness):
  """WORLD aperiodicity ``[frames, bins]`` of a breathy voice: ``a0 + (1 - a0) * (f / Nyquist)^1.5`` with
  ``a0 = 0.3 * breathiness``, so noise grows towards high frequencies as in natural voicing.

  Used instead of WORLD's D4C estimate, which would only find espeak-ng's strictly periodic source (and
  costs half of the resynthesis time).
  """
  floor = 0.3 * breathiness
  profile = floor + (1.0 - floor) * np.linspace(0.0, 1.0, num_bins) ** 1.5
  return np.tile(profile, (num_frames, 1))


def world_resynthesis(signal, sample_rate, params):
  """WORLD analysis/resynthesis with F0 jitter, a breathy aperiodicity and a warped spectral envelope.

  ``signal``: float64 mono samples; returns float64 of the same length and peak.
  """
  import pyworld  # only the corpus builder needs it
  rng = np.random.default_rng(params["seed"])
  f0, times = pyworld.dio(signal, sample_rate, frame_period=10.0)
  f0 = pyworld.stonemask(signal, f0, times, sample_rate)
  envelope = pyworld.cheaptrick(signal, f0, times, sample_rate)
  aperiodicity = breathy_aperiodicity(*envelope.shape, params["breathiness"])
  f0 = f0 * (1.0 + params["jitter"] * rng.standard_normal(f0.shape))
  bins = np.arange(envelope.shape[1], dtype=np.float64)
  warped = np.clip(bins / params["envelope_warp"], 0, bins[-1])
  envelope = np.stack([np.interp(warped, bins, frame) for frame in envelope])
  out = pyworld.synthesize(f0, np.ascontiguousarray(envelope), np.ascontiguousarray(aperiodicity),
                           sample_rate, 10.0)
  out = np.pad(out, (0, max(0, len(signal) - len(out))))[:len(signal)]
  return out * (np.max(np.abs(signal)) / (np.max(np.abs(out)) + 1e-12))


def exit_with_parent():
  """Initializer of a worker process: the kernel kills it when its parent dies (Linux), so a killed corpus
  build leaves no orphaned WORLD workers behind."""
  try:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
  except (OSError, AttributeError):
    return
  if os.getppid() == 1:  # the parent died before prctl took effect
    os._exit(1)


def world_wav_to_flac(wav_bytes, params, flac_path):
  """Resynthesises 16-bit WAV bytes with WORLD and writes a 16-bit FLAC (run in a worker process)."""
  signal, sample_rate = sf.read(io.BytesIO(wav_bytes), dtype="float64")
  sf.write(flac_path, world_resynthesis(signal, sample_rate, params), sample_rate, subtype="PCM_16",
           format="FLAC")

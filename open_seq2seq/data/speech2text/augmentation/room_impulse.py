"""Room reverberation: a bank of image-method room impulse responses (pyroomacoustics), simulated once per
parameter set, cached on disk and loaded once per process, applied by convolution aligned on the direct path.

Each room is a shoebox of random size whose wall absorption gives the drawn RT60 by Sabine's formula
(``pra.inverse_sabine``), with a source and a microphone at random positions. Responses are cut where their
energy decay curve reaches -60 dB and scaled so the direct path has amplitude 1.
"""
import hashlib
import json
import os
import threading
import zipfile

import numpy as np
from scipy.signal import oaconvolve

from open_seq2seq.utils.atomic import atomic_output
from open_seq2seq.utils.logging import deco_print

ROOM_SIZE_M = ((3.0, 9.0), (2.5, 7.0), (2.4, 3.6))  # length, width, height ranges
WALL_MARGIN_M = 0.5
MIN_SOURCE_MIC_DISTANCE_M = 0.5
DECAY_CUT_DB = 60.0
_LAYOUT_VERSION = 1


class RirBank:
  """Impulse responses ``rirs[i]`` (float32) whose direct path is at sample ``direct[i]``; ``rt60[i]`` the
  target reverberation time it was simulated for."""

  def __init__(self, rirs, direct, rt60):
    self.rirs, self.direct, self.rt60 = list(rirs), np.asarray(direct, np.int64), np.asarray(rt60, np.float64)

  def __len__(self):
    return len(self.rirs)


def _room_and_positions(rt60, rng):
  import pyroomacoustics as pra
  for _ in range(1000):
    dims = np.array([rng.uniform(low, high) for low, high in ROOM_SIZE_M])
    try:
      absorption, max_order = pra.inverse_sabine(rt60, dims)
    except ValueError:  # the room is too large for so short an RT60 even with fully absorbing walls
      continue
    source, mic = (rng.uniform(WALL_MARGIN_M, dims - WALL_MARGIN_M) for _ in range(2))
    if np.linalg.norm(source - mic) >= MIN_SOURCE_MIC_DISTANCE_M:
      return dims, absorption, max_order, source, mic
  raise ValueError("no room of sizes {} reaches RT60={} s".format(ROOM_SIZE_M, rt60))


def simulate_rir(rt60, sample_freq, rng):
  """``(rir float32, direct-path index)`` of a random shoebox room simulated for ``rt60`` seconds."""
  import pyroomacoustics as pra
  dims, absorption, max_order, source, mic = _room_and_positions(rt60, rng)
  room = pra.ShoeBox(dims, fs=sample_freq, materials=pra.Material(absorption), max_order=max_order)
  room.add_source(source)
  room.add_microphone(mic)
  room.compute_rir()
  rir = np.asarray(room.rir[0][0], np.float64)
  direct = int(np.argmax(np.abs(rir)))
  decay = np.cumsum(rir[::-1] ** 2)[::-1]
  end = int(np.searchsorted(-decay, -decay[0] * 10 ** (-DECAY_CUT_DB / 10)))
  return (rir[:max(end, direct + 1)] / abs(rir[direct])).astype(np.float32), direct


def simulate_rir_bank(rt60_range, size, seed, sample_freq):
  """``size`` rooms, room ``i`` drawn from ``default_rng([seed, i])`` with RT60 uniform in ``rt60_range``."""
  rirs, direct, rt60 = [], [], []
  for index in range(size):
    rng = np.random.default_rng([seed, index])
    target = rng.uniform(*rt60_range)
    rir, direct_index = simulate_rir(target, sample_freq, rng)
    rirs.append(rir)
    direct.append(direct_index)
    rt60.append(target)
  return RirBank(rirs, direct, rt60)


def bank_path(cache_dir, rt60_range, size, seed, sample_freq):
  """``<cache_dir>/<hash of the parameters>/rir_bank.npz``."""
  described = {"rt60_range": [float(v) for v in rt60_range], "size": int(size), "seed": int(seed),
               "sample_freq": int(sample_freq), "room_size_m": ROOM_SIZE_M, "layout_version": _LAYOUT_VERSION}
  key = hashlib.sha1(json.dumps(described, sort_keys=True).encode()).hexdigest()[:16]
  return os.path.join(cache_dir, key, "rir_bank.npz"), described


def _save(path, bank, described):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  offsets = np.cumsum([0] + [len(rir) for rir in bank.rirs])
  with atomic_output(path) as tmp, open(tmp, "wb") as handle:
    np.savez(handle, samples=np.concatenate(bank.rirs), offsets=offsets, direct=bank.direct, rt60=bank.rt60,
             params=json.dumps(described, sort_keys=True))


def _load(path):
  with np.load(path) as archive:
    samples, offsets = archive["samples"], archive["offsets"]
    return RirBank([samples[a:b] for a, b in zip(offsets[:-1], offsets[1:])], archive["direct"], archive["rt60"])


_banks = {}
_banks_lock = threading.Lock()


def rir_bank(cache_dir, rt60_range, size, seed, sample_freq):
  """The bank of these parameters: from this process' memory, else the disk cache, else simulated and cached
  (once per process; other threads wait for it)."""
  path, described = bank_path(cache_dir, rt60_range, size, seed, sample_freq)
  bank = _banks.get(path)
  if bank is not None:
    return bank
  with _banks_lock:
    if path not in _banks:
      bank = _load_or_none(path)
      if bank is None:
        deco_print("Simulating {} room impulse responses (once; cached in {})".format(size, path))
        bank = simulate_rir_bank(rt60_range, size, seed, sample_freq)
        _save(path, bank, described)
      _banks[path] = bank
    return _banks[path]


def _load_or_none(path):
  """The cached bank, or None when absent or unreadable (a truncated or foreign file is simulated anew)."""
  if not os.path.exists(path):
    return None
  try:
    return _load(path)
  except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
    deco_print("Warning: unreadable room-bank cache {} ({}); simulating the rooms again".format(path, error))
    return None


def reverberate(signal, rir, direct):
  """``signal`` convolved with ``rir``, shifted so the direct path lands at lag 0, cut to ``len(signal)``."""
  wet = oaconvolve(signal, rir)
  return wet[direct:direct + len(signal)].astype(np.float32)

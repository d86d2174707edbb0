"""Room impulse responses: energy decay against the drawn RT60 (Schroeder integration, numpy fit), the on-disk
bank cache, one simulation per process under concurrent first use, and direct-path alignment."""
import os
import threading

import numpy as np
import pytest

from open_seq2seq.data.speech2text.augmentation import perturb_signal
from open_seq2seq.data.speech2text.augmentation import room_impulse

RATE = 16000


def measured_rt60(rir, direct, top_db=-5.0, bottom_db=-25.0):
  """T20: least-squares line through the Schroeder energy decay curve between -5 and -25 dB, extrapolated
  to -60 dB."""
  tail = rir[direct:].astype(np.float64) ** 2
  decay_db = 10 * np.log10(np.cumsum(tail[::-1])[::-1] / tail.sum())
  times = np.arange(len(tail)) / RATE
  fit = (decay_db <= top_db) & (decay_db >= bottom_db)
  slope = np.polyfit(times[fit], decay_db[fit], 1)[0]
  return -60.0 / slope


def test_energy_decay_matches_the_drawn_rt60():
  measured = {}
  for target in (0.25, 0.6):
    bank = room_impulse.simulate_rir_bank([target, target], 3, seed=5, sample_freq=RATE)
    measured[target] = [measured_rt60(rir, direct) for rir, direct in zip(bank.rirs, bank.direct)]
    np.testing.assert_array_equal(bank.rt60, [target] * 3)
    for value in measured[target]:
      # Image-method rooms deviate from Sabine's formula, which sets the wall absorption.
      assert value == pytest.approx(target, rel=0.35)
  assert min(measured[0.6]) > 1.5 * max(measured[0.25])


def test_responses_are_cut_at_minus_60_db_and_scaled_to_a_unit_direct_path():
  bank = room_impulse.simulate_rir_bank([0.3, 0.3], 2, seed=1, sample_freq=RATE)
  for rir, direct in zip(bank.rirs, bank.direct):
    assert rir.dtype == np.float32 and abs(rir[direct]) == pytest.approx(1.0, abs=1e-6)
    assert np.argmax(np.abs(rir)) == direct
    energy = rir.astype(np.float64) ** 2
    assert energy[-50:].sum() < 1e-5 * energy.sum()


def test_bank_is_cached_on_disk_per_parameter_set(tmp_path, monkeypatch):
  monkeypatch.setattr(room_impulse, "_banks", {})
  first = room_impulse.rir_bank(str(tmp_path), [0.2, 0.3], 2, 7, RATE)
  path, _ = room_impulse.bank_path(str(tmp_path), [0.2, 0.3], 2, 7, RATE)
  assert os.path.isfile(path) and not [n for n in os.listdir(os.path.dirname(path)) if n.startswith(".")]
  monkeypatch.setattr(room_impulse, "_banks", {})
  monkeypatch.setattr(room_impulse, "simulate_rir_bank", lambda *args: pytest.fail("simulated again"))
  loaded = room_impulse.rir_bank(str(tmp_path), [0.2, 0.3], 2, 7, RATE)
  assert loaded is not first and len(loaded) == 2
  for a, b in zip(first.rirs, loaded.rirs):
    np.testing.assert_array_equal(a, b)
  np.testing.assert_array_equal(first.direct, loaded.direct)
  assert room_impulse.bank_path(str(tmp_path), [0.2, 0.3], 2, 8, RATE)[0] != path


def test_concurrent_first_use_simulates_once(tmp_path, monkeypatch):
  monkeypatch.setattr(room_impulse, "_banks", {})
  calls = []
  real = room_impulse.simulate_rir_bank

  def counted(*args):
    calls.append(args)
    return real(*args)

  monkeypatch.setattr(room_impulse, "simulate_rir_bank", counted)
  banks = []
  threads = [threading.Thread(target=lambda: banks.append(room_impulse.rir_bank(str(tmp_path), [0.2, 0.2], 1, 0,
                                                                                  RATE))) for _ in range(4)]
  for thread in threads:
    thread.start()
  for thread in threads:
    thread.join()
  assert len(calls) == 1 and len(banks) == 4 and all(bank is banks[0] for bank in banks)


def test_reverberation_keeps_length_and_aligns_on_the_direct_path(tmp_path):
  bank = room_impulse.simulate_rir_bank([0.3, 0.3], 1, seed=2, sample_freq=RATE)
  rir, direct = bank.rirs[0], int(bank.direct[0])
  impulse = np.zeros(20000, np.float32)
  impulse[1000] = 1.0
  out = room_impulse.reverberate(impulse, rir, direct)
  assert out.shape == impulse.shape and np.argmax(np.abs(out)) == 1000
  # Input sample n reaches output sample n + k - direct with weight rir[k].
  np.testing.assert_allclose(out[1000 - direct:1000 + len(rir) - direct], rir, atol=1e-6)
  augmented = perturb_signal(impulse, {"reverb_prob": 1.0, "rt60_range": [0.3, 0.3], "rir_bank_size": 1,
                                       "rir_cache_dir": str(tmp_path)}, np.random.default_rng(0))
  assert augmented.shape == impulse.shape and np.argmax(np.abs(augmented)) == 1000


@pytest.mark.parametrize("content", [b"garbage", b"PK\x03\x04truncated"])
def test_an_unreadable_cache_is_simulated_again(tmp_path, monkeypatch, content):
  monkeypatch.setattr(room_impulse, "_banks", {})
  first = room_impulse.rir_bank(str(tmp_path), [0.2, 0.3], 2, 7, RATE)
  path, _ = room_impulse.bank_path(str(tmp_path), [0.2, 0.3], 2, 7, RATE)
  with open(path, "wb") as handle:
    handle.write(content)
  monkeypatch.setattr(room_impulse, "_banks", {})
  again = room_impulse.rir_bank(str(tmp_path), [0.2, 0.3], 2, 7, RATE)
  for a, b in zip(first.rirs, again.rirs):
    np.testing.assert_array_equal(a, b)
  monkeypatch.setattr(room_impulse, "_banks", {})
  assert len(room_impulse.rir_bank(str(tmp_path), [0.2, 0.3], 2, 7, RATE)) == 2  # the rewritten cache reads


def test_a_cache_folder_that_is_a_file_is_a_config_error(tmp_path):
  from open_seq2seq.data.speech2text.augmentation import SignalAugmenter
  blocker = tmp_path / "afile"
  blocker.write_text("not a folder")
  with pytest.raises(ValueError, match="rir_cache_dir=.*afile.*cannot write the room-bank cache"):
    SignalAugmenter({"reverb_prob": 1.0, "rir_bank_size": 1, "rir_cache_dir": str(blocker)})

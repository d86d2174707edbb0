"""Tests for open_seq2seq/corpus/speakers.py: the speaker grid."""

import pytest

from open_seq2seq.corpus.errors import CorpusError
from open_seq2seq.corpus.speakers import (DEV_OTHER_VARIANTS, FEMALE_VARIANTS, MALE_VARIANTS, TRAIN_VARIANTS, VOICES,
                                          select_speakers)


def test_select_speakers():
  speakers = select_speakers(0, 36, 4, 4)
  assert speakers == select_speakers(0, 36, 4, 4)
  assert speakers != select_speakers(1, 36, 4, 4)
  assert sorted(s["speaker"] for s in speakers) == list(range(1000, 1044))
  assert len({(s["voice"], s["variant"]) for s in speakers}) == 44  # no reuse while combinations are free
  for split in ("dev-clean", "test-clean"):
    held = [s for s in speakers if s["split"] == split]
    assert len(held) == 4
    assert len({s["voice"] for s in held}) >= 3
    assert {s["variant"][0] for s in held} == {"m", "f"}
  train = [s for s in speakers if s["split"] == "train-clean-100"]
  assert len({s["voice"] for s in train}) == len(VOICES)
  # past the free combinations they are reused, each with a timbre of its own
  many = [s for s in select_speakers(0, 500, 4, 4, world_fraction=0.5) if s["split"] == "train-clean-100"]
  combos = [(s["voice"], s["variant"]) for s in many]
  assert len(set(combos)) == len(VOICES) * len(TRAIN_VARIANTS) - 8
  assert max(combos.count(c) for c in combos) == 2
  assert len({(s["voice"], s["variant"], s["speed"], s["pitch"], s["formant_shift"]) for s in many}) == 500
  assert sum("world" in s for s in many) == 250
  with pytest.raises(CorpusError, match="world_fraction"):
    select_speakers(0, 10, 4, 4, world_fraction=1.5)
  with pytest.raises(CorpusError, match="dev-other"):
    select_speakers(0, 10, 4, 4, num_dev_other=1000)


def test_plain_training_variants():
  """--train_variants plain: training speakers use only the male/female variants, every free voice+variant
  combination once before any is reused, and the held-out and dev-other speakers stay as they are."""
  plain = select_speakers(0, 200, 4, 4, 8, train_variants="plain")
  every = select_speakers(0, 200, 4, 4, 8)
  train = [s for s in plain if s["split"] == "train-clean-100"]
  assert {s["variant"] for s in train} == set(MALE_VARIANTS + FEMALE_VARIANTS)
  combos = [(s["voice"], s["variant"]) for s in train]
  # 8 accents x 12 variants, less the 8 held-out combinations, each taken before any is reused
  assert len(set(combos[:88])) == 88
  held_out = {(s["voice"], s["variant"]) for s in plain if s["split"] in ("dev-clean", "test-clean")}
  assert not held_out & set(combos)
  assert [s for s in plain if s["split"] != "train-clean-100"] == [s for s in every if s["split"] != "train-clean-100"]
  assert not {s["variant"] for s in train} & set(DEV_OTHER_VARIANTS)
  with pytest.raises(CorpusError, match="--train_variants must be one of"):
    select_speakers(0, 10, 4, 4, train_variants="klatt")


def test_held_out_speakers_do_not_depend_on_the_training_speakers():
  def held_out(num_train):
    return [s for s in select_speakers(0, num_train, 4, 4)
            if s["split"] != "train-clean-100"]
  assert held_out(36) == held_out(12) == held_out(150)
  train = [s for s in select_speakers(0, 150, 4, 4)
           if s["split"] == "train-clean-100"]
  held = {(s["voice"], s["variant"]) for s in held_out(150)}
  assert len({(s["voice"], s["variant"]) for s in train} | held) == 158

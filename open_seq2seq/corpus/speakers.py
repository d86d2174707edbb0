"""The speakers of the mini corpus: espeak-ng's English voices (accents) and variants, and the speaker grid.

Every "speaker" is one espeak-ng voice + variant combination with its own speaking rate and pitch; train,
dev, test and dev-other use disjoint speakers. A speaker is a dict: ``speaker`` and ``chapter`` (ids),
``split``, ``voice``, ``variant``, ``speed`` (espeak-ng -s, words per minute), ``pitch`` (espeak-ng -p,
0..99) and, for training speakers, the timbre of open_seq2seq/corpus/voices.py (``formant_shift``,
``word_gap``, optionally ``world``).
"""
import random

from open_seq2seq.corpus import piper_voice
from open_seq2seq.corpus import voices as corpus_voices
from open_seq2seq.corpus.errors import CorpusError
from open_seq2seq.corpus.layout import DEV_OTHER_SPLIT, DEV_SPLIT, TEST_SPLIT, TRAIN_SPLIT

FIRST_SPEAKER_ID = 1000
FIRST_DEV_OTHER_SPEAKER_ID = 9000

# English espeak-ng voices (accents). "en-gb" is deliberately absent: it
# silently ignores "+variant" (see shared/reference/ESPEAK_NOTES.md); "en" is
# the same British voice but applies variants.
VOICES = (
    "en-us",
    "en",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
    "en-029",
    "en-us-nyc",
)
FORBIDDEN_VOICES = ("en-gb",)
MALE_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7")
FEMALE_VARIANTS = ("f1", "f2", "f3", "f4", "f5")
OTHER_VARIANTS = ("klatt", "klatt2", "klatt3", "croak", "whisper")
NAMED_VARIANTS = ("Andy", "Annie", "edward", "grandma", "grandpa", "linda",
                  "quincy", "steph", "adam", "Alex", "Alicia", "Andrea", "aunty",
                  "benjamin", "boris", "david", "Gene", "john", "Lee",
                  "max", "paul", "rob", "robert", "victor", "zac", "shelby", "m8")
TRAIN_VARIANTS = MALE_VARIANTS + FEMALE_VARIANTS + OTHER_VARIANTS + NAMED_VARIANTS
# The variants training speakers cycle over (--train_variants): "plain" the male/female grid that the held-out
# speakers use, "all" also the Klatt sources, croak/whisper and the named community voices.
TRAIN_VARIANT_SETS = {"plain": MALE_VARIANTS + FEMALE_VARIANTS, "all": TRAIN_VARIANTS}
# Variants of the out-of-domain dev proxy only, never trained on: Klatt sources, whispered female, and named
# community voices ("klatt6" and "caleb" render exactly like "klatt", so neither is used anywhere).
DEV_OTHER_VARIANTS = ("klatt4", "klatt5", "whisperf", "Michael", "iven2",
                      "travis", "norbert", "belinda")
# Held-out (dev/test) speakers use the plain male/female grid, alternating.
HELDOUT_VARIANT_POOLS = (MALE_VARIANTS, FEMALE_VARIANTS)

SPEED_RANGE = (140, 200)  # espeak-ng -s, words per minute
PITCH_RANGE = (30, 70)    # espeak-ng -p, 0..99


def select_speakers(seed, num_train, num_dev, num_test, num_dev_other=0,
                    world_fraction=0.0, word_gaps=False, train_variants="all", piper_fraction=0.0):
  """Deterministic list of speaker dicts (train, dev, test, then dev-other).

  Held-out (dev, test) speakers walk a seeded shuffle of the accents, so each
  held-out split covers several accents, and alternate male/female variants;
  they keep espeak-ng's own timbre. Training speakers cycle over the accents
  and over the ``train_variants`` set (TRAIN_VARIANT_SETS), a voice+variant combination being reused
  only once every free combination has been taken; each training speaker also
  gets its own formant scale (and, with ``word_gaps``, a pause between words), and a ``world_fraction``
  of them a WORLD resynthesis (corpus_voices.draw_timbre), so no two share a
  timbre. The held-out speakers (ids, voices, speed and pitch) do not depend
  on the training speakers, so corpora with more or fewer training speakers
  share their dev and test sets. Dev-other speakers use DEV_OTHER_VARIANTS,
  which training never uses. A ``piper_fraction`` of the training speakers (a seeded sample) are rendered by
  Piper instead of espeak-ng (piper_voice.py); every other speaker is the same whatever ``piper_fraction``.

  Raises CorpusError for a split without speakers, a negative ``num_dev_other``, a ``world_fraction`` outside
  [0, 1], an unknown ``train_variants``, a ``piper_fraction`` outside [0, 1], or more dev/test or dev-other
  speakers than there are voice+variant combinations for them.
  """
  _check_speaker_counts(num_train, num_dev, num_test, num_dev_other, world_fraction)
  if not 0.0 <= piper_fraction <= 1.0:
    raise CorpusError("--piper_fraction must lie in [0, 1], got {}".format(piper_fraction))
  if train_variants not in TRAIN_VARIANT_SETS:
    raise CorpusError("--train_variants must be one of {}, got {!r}".format(sorted(TRAIN_VARIANT_SETS),
                                                                            train_variants))
  rng = random.Random("speakers-{}".format(seed))
  voice_order = list(VOICES)
  rng.shuffle(voice_order)
  heldout = _heldout_grid(rng, voice_order, num_dev, num_test)
  train = _train_grid(rng, voice_order, heldout, num_train, TRAIN_VARIANT_SETS[train_variants])
  speakers = _grid_speakers(seed, heldout + train, len(heldout), world_fraction, word_gaps)
  _to_piper(seed, speakers[len(heldout):], int(round(piper_fraction * num_train)))
  speakers += _dev_other_speakers(seed, num_dev_other)
  split_order = {TRAIN_SPLIT: 0, DEV_SPLIT: 1, TEST_SPLIT: 2, DEV_OTHER_SPLIT: 3}
  return sorted(speakers, key=lambda s: split_order[s["split"]])


def _check_speaker_counts(num_train, num_dev, num_test, num_dev_other, world_fraction):
  """CorpusError for the counts select_speakers refuses; the capacities are those of the variant tables."""
  if min(num_train, num_dev, num_test) < 1:
    raise CorpusError("every split needs at least one speaker")
  if num_dev_other < 0:
    raise CorpusError("--num_dev_other_speakers must be >= 0 (0 builds no dev-other), got {}".format(
        num_dev_other))
  if not 0.0 <= world_fraction <= 1.0:
    raise CorpusError("--world_fraction must lie in [0, 1], got {}".format(world_fraction))
  heldout = num_dev + num_test
  heldout_capacity = len(VOICES) * sum(len(p) for p in HELDOUT_VARIANT_POOLS)
  if heldout > heldout_capacity:
    raise CorpusError("too many dev/test speakers requested ({} > {})".format(
        heldout, heldout_capacity))
  if num_dev_other > len(VOICES) * len(DEV_OTHER_VARIANTS):
    raise CorpusError("too many dev-other speakers requested ({} > {})".format(
        num_dev_other, len(VOICES) * len(DEV_OTHER_VARIANTS)))


def _heldout_grid(rng, voice_order, num_dev, num_test):
  """(split, voice, variant) of the dev then the test speakers, each combination used once."""
  used = set()
  chosen = []
  for k in range(num_dev + num_test):
    split = DEV_SPLIT if k < num_dev else TEST_SPLIT
    voice = voice_order[k % len(voice_order)]
    pools = HELDOUT_VARIANT_POOLS[k % 2:] + HELDOUT_VARIANT_POOLS[:k % 2]
    candidates = []
    for pool in pools:
      # prefer variants not yet used by another held-out speaker
      fresh = [v for v in pool if (voice, v) not in used
               and all(v != c[2] for c in chosen)]
      candidates = fresh or [v for v in pool if (voice, v) not in used]
      if candidates:
        break
    if not candidates:
      # fall back to any other accent that still has a free variant
      for voice in voice_order:
        candidates = [v for pool in HELDOUT_VARIANT_POOLS for v in pool
                      if (voice, v) not in used]
        if candidates:
          break
    variant = rng.choice(candidates)
    used.add((voice, variant))
    chosen.append((split, voice, variant))
  return chosen


def _train_grid(rng, voice_order, heldout, num_train, variants):
  """(split, voice, variant) of the training speakers, the variants among ``variants``: no held-out
  combination, none reused before all are."""
  heldout_combinations = {(voice, variant) for _, voice, variant in heldout}
  used = set(heldout_combinations)
  train = []
  cycle = []
  for k in range(num_train):
    voice = voice_order[(len(heldout) + k) % len(voice_order)]
    free = [v for v in variants if (voice, v) not in used]
    if not free:
      voice = next((v for v in voice_order
                    if any((v, var) not in used for var in variants)), None)
      if voice is None:  # every combination taken once: start another round
        used = set(heldout_combinations)
        voice = voice_order[(len(heldout) + k) % len(voice_order)]
      free = [v for v in variants if (voice, v) not in used]
    variant = _next_variant(rng, cycle, free, variants)
    used.add((voice, variant))
    train.append((TRAIN_SPLIT, voice, variant))
  return train


def _next_variant(rng, cycle, free, variants):
  """Pops the first variant in ``free`` from ``cycle``, a queue of seeded shuffles of ``variants`` that is
  topped up in place, so the variants come round evenly."""
  variant = None
  for attempt in range(2):
    if not cycle or attempt:
      cycle.extend(rng.sample(variants, len(variants)))
    for j, candidate in enumerate(cycle):
      if candidate in free:
        variant = cycle.pop(j)
        break
    if variant is not None:
      break
  return variant


def _grid_speakers(seed, grid, num_heldout, world_fraction, word_gaps):
  """Speaker dicts of the held-out then training ``grid`` entries: ids, speed and pitch; training timbres."""
  heldout_prosody = random.Random("heldout-prosody-{}".format(seed))
  train_prosody = random.Random("train-prosody-{}".format(seed))
  timbre_rng = random.Random("train-timbre-{}".format(seed))
  num_train = len(grid) - num_heldout
  world_speakers = set(timbre_rng.sample(range(num_train), int(round(world_fraction * num_train))))
  speakers = []
  for index, (split, voice, variant) in enumerate(grid):
    prosody = train_prosody if split == TRAIN_SPLIT else heldout_prosody
    speaker_id = FIRST_SPEAKER_ID + index
    speaker = {
        "speaker": speaker_id,
        "chapter": speaker_id * 10 + 1,
        "split": split,
        "voice": voice,
        "variant": variant,
        "speed": prosody.randint(*SPEED_RANGE),
        "pitch": prosody.randint(*PITCH_RANGE),
    }
    if split == TRAIN_SPLIT:
      speaker.update(corpus_voices.draw_timbre(timbre_rng, index - num_heldout in world_speakers, word_gaps))
    speakers.append(speaker)
  return speakers


def _to_piper(seed, train_speakers, num_piper):
  """Turns a seeded sample of ``num_piper`` of ``train_speakers`` into Piper speakers, in place: Piper's voice
  and a speaking rate replace espeak-ng's voice, variant, rate, pitch and word gap; the timbre drawn for the
  speaker (formant scale, WORLD) stays."""
  rng = random.Random("train-piper-{}".format(seed))
  for index in sorted(rng.sample(range(len(train_speakers)), num_piper)):
    speaker = train_speakers[index]
    for key in ("speed", "pitch", "word_gap"):
      speaker.pop(key, None)
    speaker.update(engine=piper_voice.ENGINE, voice=piper_voice.VOICE, variant="-",
                   **piper_voice.draw_prosody(rng))


def _dev_other_speakers(seed, num_dev_other):
  """Speaker dicts of dev-other: DEV_OTHER_VARIANTS over a seeded shuffle of the accents."""
  other_rng = random.Random("dev-other-{}".format(seed))
  other_voices = other_rng.sample(VOICES, len(VOICES))
  speakers = []
  for k in range(num_dev_other):
    speaker_id = FIRST_DEV_OTHER_SPEAKER_ID + k
    speakers.append({
        "speaker": speaker_id,
        "chapter": speaker_id * 10 + 1,
        "split": DEV_OTHER_SPLIT,
        "voice": other_voices[k % len(other_voices)],
        "variant": DEV_OTHER_VARIANTS[k % len(DEV_OTHER_VARIANTS)],
        "speed": other_rng.randint(*SPEED_RANGE),
        "pitch": other_rng.randint(*PITCH_RANGE),
    })
  return speakers

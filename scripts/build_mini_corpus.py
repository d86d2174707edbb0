#!/usr/bin/env python
"""Synthesise a small LibriSpeech-layout speech corpus with espeak-ng.

The sentences are real English text taken from the ``fortunes`` collection
(/usr/share/games/fortunes), filtered so that what espeak-ng says is exactly
what the transcript holds (no digits, symbols, abbreviations or acronyms).
Every "speaker" is one espeak-ng voice (accent) + variant combination with its
own speaking rate and pitch; train, dev and test use disjoint speakers and
disjoint sentences.

Output (same layout as the real corpus, so ``import_librivox.py`` can be run on
it unchanged)::

    <output_dir>/LibriSpeech/<split>/<speaker>/<chapter>/<speaker>-<chapter>-<NNNN>.flac
    <output_dir>/LibriSpeech/<split>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt
    <output_dir>/LibriSpeech/SPEAKERS.TXT
    <output_dir>/LibriSpeech/.complete_<split>
    <output_dir>/librispeech-lm-norm.txt

with split names train-clean-100, dev-clean and test-clean. The last file is
the language-model text, as the real corpus's LM resource: one upper-case
sentence per line, every usable fortunes sentence except the dev and test ones.
The FLAC files are 16 kHz, 16-bit, mono. Given the same arguments and seed the output is
byte-identical; an interrupted build can be resumed by running the same command
again (finished utterances are kept, every file is written atomically).

Example::

    python scripts/build_mini_corpus.py --output_dir data/mini
    python scripts/import_librivox.py --data_dir data/mini
"""

import argparse
import hashlib
import io
import json
import multiprocessing
import os
import random
import re
import shutil
import subprocess
import sys
import unicodedata
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import soundfile as sf

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from open_seq2seq.utils.atomic import atomic_output, remove_temp_files, temp_path_for  # noqa: E402  pylint: disable=wrong-import-position
from open_seq2seq.utils.parallel import bounded_parallel_map  # noqa: E402  pylint: disable=wrong-import-position
from open_seq2seq.corpus import voices as corpus_voices  # noqa: E402  pylint: disable=wrong-import-position

try:
  from tqdm import tqdm
except ImportError:  # pragma: no cover - tqdm is in requirements.txt
  tqdm = None


TRAIN_SPLIT = "train-clean-100"
DEV_SPLIT = "dev-clean"
TEST_SPLIT = "test-clean"
# The out-of-domain dev proxy: the dev sentences, read by variants training never hears, under recording
# conditions training-time augmentation never applies (open_seq2seq/corpus/voices.py).
DEV_OTHER_SPLIT = "dev-other"
SPLITS = (TRAIN_SPLIT, DEV_SPLIT, TEST_SPLIT, DEV_OTHER_SPLIT)

SAMPLE_RATE = 16000
FIRST_SPEAKER_ID = 1000
FIRST_DEV_OTHER_SPEAKER_ID = 9000
BUILD_INFO_NAME = ".mini_corpus_build.json"
SPEAKERS_FILE_NAME = "SPEAKERS.TXT"
CONDITIONS_FILE_NAME = "CONDITIONS.TXT"  # dev-other: the recording condition of each utterance
LM_TEXT_FILE_NAME = "librispeech-lm-norm.txt"
BUILD_FORMAT_VERSION = 3

DEFAULT_FORTUNE_DIR = "/usr/share/games/fortunes"
# "translate-me" holds Latin and other non-English text; "off" (a folder in
# some distributions) holds offensive fortunes and is never read.
DEFAULT_EXCLUDED_FORTUNE_FILES = ("translate-me",)
EXCLUDED_FORTUNE_SUBDIRS = ("off",)

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
# Variants of the out-of-domain dev proxy only, never trained on: Klatt sources, whispered female, and named
# community voices ("klatt6" and "caleb" render exactly like "klatt", so neither is used anywhere).
DEV_OTHER_VARIANTS = ("klatt4", "klatt5", "whisperf", "Michael", "iven2",
                      "travis", "norbert", "belinda")
# Held-out (dev/test) speakers use the plain male/female grid, alternating.
HELDOUT_VARIANT_POOLS = (MALE_VARIANTS, FEMALE_VARIANTS)

SPEED_RANGE = (140, 200)  # espeak-ng -s, words per minute
PITCH_RANGE = (30, 70)    # espeak-ng -p, 0..99

# Rendered once per speaker (at default speed/pitch) to detect voices or
# variants that espeak-ng silently replaced by a fallback.
PROBE_SENTENCE = ("the quick brown fox jumps over the lazy dog while water "
                  "and dark clouds gather near our harbour.")

# Characters that espeak-ng would read out, or that mark text that is not
# plain prose (code, e-mail addresses, ASCII art, tables).
FORBIDDEN_CHARS = frozenset("0123456789@/#&$%*_<>=+|~^[](){}\\")
# Words that espeak-ng expands or spells (compared in lower case, with or
# without a trailing period).
ABBREVIATIONS = frozenset("""
  mr mrs ms messrs dr st jr sr prof etc vs viz eg ie cf al inc ltd corp co
  dept capt sgt lt col gen gov sen rep rev hon mt ft lb lbs oz km kg cm mm mg
  ml mph pm ok tv pc id approx esp os irc
  """.split())
# Words without a vowel letter that espeak-ng still pronounces as a word.
VOWELLESS_WORDS = frozenset(("hmm", "hmmm", "tsk", "nth"))
_VOWELS = frozenset("aeiouyAEIOUY")
_ROMAN_NUMERAL = re.compile(r"^[ivx]{2,}$", re.IGNORECASE)  # ii, iv, xiv ...
_UPPER_RUN = re.compile(r"[A-Z]{2,}")
_WORD_CORE = re.compile(r"^([^A-Za-z]*)([A-Za-z].*[A-Za-z]|[A-Za-z])?([^A-Za-z]*)$")
_INNER_WORD = re.compile(r"^[A-Za-z]+(?:(?:'|-+)[A-Za-z]+)*$")
_EDGE_PUNCT = frozenset("\"'`,.;:!?-")
_OVERSTRIKE = re.compile(r"[^\n]\x08")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_UNICODE_PUNCT = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'",
    "\u2032": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"',
    "\u201f": '"', "\u00ab": '"', "\u00bb": '"', "\u2010": "-",
    "\u2011": "-", "\u2012": "-", "\u2013": " - ", "\u2014": " - ",
    "\u2015": " - ", "\u2212": "-", "\u00a0": " ",
}


class CorpusError(Exception):
  """A problem that stops the build; the message says what to do."""


# ---------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------

def _decode(raw):
  try:
    return raw.decode("utf-8")
  except UnicodeDecodeError:
    return raw.decode("latin-1")


def to_ascii(text):
  """Unicode punctuation -> ASCII look-alikes, NFKD, non-ASCII dropped."""
  text = "".join(_UNICODE_PUNCT.get(ch, ch) for ch in text)
  text = unicodedata.normalize("NFKD", text)
  return text.encode("ascii", "ignore").decode("ascii")


def list_fortune_files(fortune_dir, excluded=DEFAULT_EXCLUDED_FORTUNE_FILES):
  """Plain-text fortune files in ``fortune_dir``, sorted by name.

  Skips the ``*.dat`` index files, the ``*.u8`` symlinks, every other symlink,
  sub-directories (the offensive ``off`` collection among them) and the names
  in ``excluded``.
  """
  if not os.path.isdir(fortune_dir):
    raise CorpusError(
        "fortune directory {!r} not found; install the Debian package "
        "'fortunes' (apt-get install fortunes) or pass --fortune_dir".format(
            fortune_dir))
  paths = []
  for name in sorted(os.listdir(fortune_dir)):
    path = os.path.join(fortune_dir, name)
    if (name.startswith(".") or name.endswith((".dat", ".u8"))
        or name in excluded or name in EXCLUDED_FORTUNE_SUBDIRS
        or os.path.islink(path) or not os.path.isfile(path)):
      continue
    paths.append(path)
  if not paths:
    raise CorpusError("no fortune files found in {!r}".format(fortune_dir))
  return paths


def iter_entries(path):
  """Yields the entries of one fortune file (separated by lines '%')."""
  with open(path, "rb") as f:
    text = _decode(f.read())
  text = _OVERSTRIKE.sub("", text.replace("\r\n", "\n"))
  text = _CONTROL.sub("", text)
  entry = []
  for line in text.split("\n"):
    if line.strip() == "%":
      if entry:
        yield "\n".join(entry)
      entry = []
    else:
      entry.append(line)
  if any(line.strip() for line in entry):
    yield "\n".join(entry)


def iter_paragraphs(entry):
  """Splits an entry at blank lines; drops attribution lines ('-- Author')."""
  block = []
  for line in entry.split("\n"):
    stripped = line.strip()
    if not stripped or stripped.startswith("-"):
      if block:
        yield " ".join(block)
      block = []
    else:
      block.append(stripped)
  if block:
    yield " ".join(block)


def _starts_upper(token):
  core = token.lstrip("\"'`(")
  return bool(core) and core[0].isupper()


def _word_of(token):
  """The letters of a token without surrounding punctuation, lower case."""
  match = _WORD_CORE.match(token)
  return (match.group(2) or "").lower() if match else ""


def _is_abbreviation_end(token):
  core = token.rstrip("\"')`")
  if not core.endswith(".") or core.endswith(".."):
    return False
  word = _word_of(core)
  return word in ABBREVIATIONS or (len(word) == 1 and word not in ("a", "i"))


def split_sentences(paragraph):
  """Token-based sentence split of one paragraph; returns lists of tokens.

  A sentence ends at a token ending in . ! or ? (optionally followed by
  closing quotes) when the next token starts with a capital letter, except
  after a known abbreviation or an initial ("Mr. Smith", "J. Smith").
  """
  tokens = paragraph.split()
  sentences, current = [], []
  for i, token in enumerate(tokens):
    current.append(token)
    core = token.rstrip("\"')`")
    if not core.endswith((".", "!", "?")):
      continue
    nxt = tokens[i + 1] if i + 1 < len(tokens) else None
    if nxt is not None and (not _starts_upper(nxt)
                            or _is_abbreviation_end(token)):
      continue
    sentences.append(current)
    current = []
  if current:
    sentences.append(current)
  return sentences


def _check_word(word):
  """True if espeak-ng reads ``word`` (letters and apostrophes) as written."""
  letters = word.replace("'", "")
  if not letters:
    return False
  if _UPPER_RUN.search(letters):
    return False  # acronym / all caps: espeak would spell it
  lower = letters.lower()
  if lower in ABBREVIATIONS or _ROMAN_NUMERAL.match(lower):
    return False
  if (len(lower) > 1 and not _VOWELS.intersection(lower)
      and lower not in VOWELLESS_WORDS):
    return False  # "brr", "pfft": espeak spells vowel-less words
  return True


def sentence_to_transcript(tokens, min_words, max_words):
  """LibriSpeech-style transcript of one sentence, or None if rejected.

  The transcript holds only A-Z, apostrophe and single spaces. Sentences are
  rejected when espeak-ng would not say exactly what the transcript holds.
  """
  if not tokens or not _starts_upper(tokens[0]):
    return None
  if not tokens[-1].rstrip("\"')`").endswith((".", "!", "?")):
    return None
  text = " ".join(tokens)
  if FORBIDDEN_CHARS.intersection(text):
    return None
  words = []
  last = len(tokens) - 1
  for i, token in enumerate(tokens):
    match = _WORD_CORE.match(token)
    if match is None:
      return None
    lead, core, trail = match.groups()
    if not _EDGE_PUNCT.issuperset(lead) or not _EDGE_PUNCT.issuperset(trail):
      return None
    if core is None:
      continue  # pure punctuation such as "--" or "..."
    if len(core) == 1 and ":" in trail:
      return None  # dialogue label "Q:" / "A:", not part of the sentence
    if "." in trail:
      if i != last and "..." not in trail:
        return None  # "etc. and", "Mr. smith": abbreviation mid-sentence
      if i == last and _is_abbreviation_end(token):
        return None
    if not _INNER_WORD.match(core):
      return None  # "e.g", "and,then", "a.m", "foo:bar"
    for part in re.split(r"-+", core):
      part = part.strip("'")
      if not _check_word(part):
        return None
      words.append(part.upper())
  if not min_words <= len(words) <= max_words:
    return None
  return " ".join(words)


def collect_transcripts(fortune_dir, min_words, max_words,
                        excluded=DEFAULT_EXCLUDED_FORTUNE_FILES):
  """Unique usable transcripts in a deterministic (file, entry) order."""
  seen = set()
  transcripts = []
  for path in list_fortune_files(fortune_dir, excluded):
    for entry in iter_entries(path):
      for paragraph in iter_paragraphs(to_ascii(entry)):
        for tokens in split_sentences(paragraph):
          transcript = sentence_to_transcript(tokens, min_words, max_words)
          if transcript is not None and transcript not in seen:
            seen.add(transcript)
            transcripts.append(transcript)
  return transcripts


def espeak_text(transcript):
  """What is fed to espeak-ng: the lower-case transcript plus a period."""
  return transcript.lower() + "."


# ---------------------------------------------------------------------------
# Speakers
# ---------------------------------------------------------------------------

def select_speakers(seed, num_train, num_dev, num_test, num_dev_other=0,
                    world_fraction=0.0):
  """Deterministic list of speaker dicts (train, dev, test, then dev-other).

  Held-out (dev, test) speakers walk a seeded shuffle of the accents, so each
  held-out split covers several accents, and alternate male/female variants;
  they keep espeak-ng's own timbre. Training speakers cycle over the accents
  and over all training variants, a voice+variant combination being reused
  only once every free combination has been taken; each training speaker also
  gets its own formant scale and word gap, and a ``world_fraction``
  of them a WORLD resynthesis (corpus_voices.draw_timbre), so no two share a
  timbre. The held-out speakers (ids, voices, speed and pitch) do not depend
  on the training speakers, so corpora with more or fewer training speakers
  share their dev and test sets. Dev-other speakers use DEV_OTHER_VARIANTS,
  which training never uses.
  """
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

  rng = random.Random("speakers-{}".format(seed))
  voice_order = list(VOICES)
  rng.shuffle(voice_order)
  used = set()
  chosen = []  # (split, voice, variant)

  for k in range(heldout):
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

  heldout_combinations = set(used)
  train = []
  cycle = []
  for k in range(num_train):
    voice = voice_order[(heldout + k) % len(voice_order)]
    free = [v for v in TRAIN_VARIANTS if (voice, v) not in used]
    if not free:
      voice = next((v for v in voice_order
                    if any((v, var) not in used for var in TRAIN_VARIANTS)), None)
      if voice is None:  # every combination taken once: start another round
        used = set(heldout_combinations)
        voice = voice_order[(heldout + k) % len(voice_order)]
      free = [v for v in TRAIN_VARIANTS if (voice, v) not in used]
    variant = None
    for attempt in range(2):
      if not cycle or attempt:
        cycle.extend(rng.sample(TRAIN_VARIANTS, len(TRAIN_VARIANTS)))
      for j, candidate in enumerate(cycle):
        if candidate in free:
          variant = cycle.pop(j)
          break
      if variant is not None:
        break
    used.add((voice, variant))
    train.append((TRAIN_SPLIT, voice, variant))

  heldout_prosody = random.Random("heldout-prosody-{}".format(seed))
  train_prosody = random.Random("train-prosody-{}".format(seed))
  timbre_rng = random.Random("train-timbre-{}".format(seed))
  world_speakers = set(timbre_rng.sample(range(num_train), int(round(world_fraction * num_train))))
  speakers = []
  for index, (split, voice, variant) in enumerate(chosen + train):
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
      speaker.update(corpus_voices.draw_timbre(timbre_rng, index - heldout in world_speakers))
    speakers.append(speaker)

  other_rng = random.Random("dev-other-{}".format(seed))
  other_voices = other_rng.sample(VOICES, len(VOICES))
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
  split_order = {TRAIN_SPLIT: 0, DEV_SPLIT: 1, TEST_SPLIT: 2, DEV_OTHER_SPLIT: 3}
  return sorted(speakers, key=lambda s: split_order[s["split"]])


# ---------------------------------------------------------------------------
# espeak-ng / sox
# ---------------------------------------------------------------------------

def find_tools():
  """Paths of espeak-ng and sox; CorpusError if one is missing."""
  tools = {}
  hints = {"espeak-ng": "apt-get install espeak-ng",
           "sox": "apt-get install sox libsox-fmt-all"}
  for name, hint in hints.items():
    path = shutil.which(name)
    if path is None:
      raise CorpusError("'{}' was not found on PATH; install it ({})".format(
          name, hint))
    tools[name] = path
  return tools


def _run(cmd, what):
  try:
    result = subprocess.run(cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, check=False)
  except OSError as e:
    raise CorpusError("cannot run {}: {}".format(what, e))
  if result.returncode != 0:
    raise CorpusError("{} failed (exit {}): {}".format(
        what, result.returncode,
        result.stderr.decode("utf-8", "replace").strip()))
  return result.stdout


def espeak_voice_names(espeak):
  """(languages, variants) that this espeak-ng knows about."""
  languages = set()
  for line in _run([espeak, "--voices=en"], "espeak-ng --voices=en").decode(
      "utf-8", "replace").splitlines()[1:]:
    fields = line.split()
    if len(fields) >= 2:
      languages.add(fields[1])
    languages.update(re.findall(r"\(([\w-]+) \d+\)", line))
  variants = set()
  for line in _run([espeak, "--voices=variant"],
                   "espeak-ng --voices=variant").decode(
                       "utf-8", "replace").splitlines()[1:]:
    fields = line.split()
    if len(fields) >= 5 and fields[4].startswith("!v/"):
      variants.add(fields[4][3:])
  return languages, variants


def espeak_command(espeak, voice_spec, text, speed=None, pitch=None, word_gap=0):
  cmd = [espeak, "-v", voice_spec]
  if speed is not None:
    cmd += ["-s", str(speed)]
  if pitch is not None:
    cmd += ["-p", str(pitch)]
  if word_gap:
    cmd += ["-g", str(word_gap)]
  return cmd + ["--stdout", text]


def voice_spec(speaker):
  return "{}+{}".format(speaker["voice"], speaker["variant"])


def render_wav_bytes(espeak, spec, text):
  """espeak-ng WAV (22.05 kHz) of ``text`` at default speed and pitch."""
  data = _run(espeak_command(espeak, spec, text),
              "espeak-ng -v {}".format(spec))
  if len(data) <= 44:
    raise CorpusError("espeak-ng -v {} produced no audio".format(spec))
  return data


def check_speakers(speakers, espeak, workers=1):
  """Refuses voice grids in which espeak-ng silently fell back.

  Checks every voice and variant name against espeak-ng's own lists, then
  renders PROBE_SENTENCE once per speaker and once per bare voice: two
  speakers with byte-identical audio, or a speaker identical to its bare voice
  (variant ignored), is an error.
  """
  languages, variants = espeak_voice_names(espeak)
  for s in speakers:
    if s["voice"] in FORBIDDEN_VOICES:
      raise CorpusError("voice {!r} ignores variants; use 'en' instead".format(
          s["voice"]))
    if s["voice"] not in languages:
      raise CorpusError("espeak-ng has no voice {!r}".format(s["voice"]))
    if s["variant"] not in variants:
      raise CorpusError("espeak-ng has no variant {!r}".format(s["variant"]))

  specs = sorted({voice_spec(s) for s in speakers} |
                 {s["voice"] for s in speakers})
  with ThreadPoolExecutor(max(1, workers)) as pool:
    digests = dict(zip(specs, pool.map(
        lambda spec: hashlib.sha256(
            render_wav_bytes(espeak, spec, PROBE_SENTENCE)).hexdigest(),
        specs)))
  owner = {}
  # Training speakers may share a voice+variant (their timbres differ after synthesis); each espeak-ng
  # voice+variant must still sound unlike every other one.
  for s in {voice_spec(s): s for s in speakers}.values():
    spec = voice_spec(s)
    digest = digests[spec]
    if digest == digests[s["voice"]]:
      raise CorpusError(
          "espeak-ng ignores variant {!r} of voice {!r} (speaker {}): its "
          "audio is identical to the plain voice".format(
              s["variant"], s["voice"], s["speaker"]))
    if digest in owner:
      other = owner[digest]
      raise CorpusError(
          "speakers {} ({}) and {} ({}) render identically; espeak-ng "
          "silently fell back to another voice, or a voice+variant is used "
          "twice".format(other["speaker"], voice_spec(other), s["speaker"],
                         spec))
    owner[digest] = s


def _run_pipeline(commands, what):
  """Runs ``commands`` as a shell-less pipeline; returns the last one's stdout. CorpusError names the
  stage that failed and what it printed."""
  processes = []
  try:
    for cmd in commands:
      stdin = processes[-1].stdout if processes else subprocess.DEVNULL
      processes.append(subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE))
      if stdin is not subprocess.DEVNULL:
        stdin.close()
  except OSError as e:
    for process in processes:
      process.kill()
    raise CorpusError("cannot run {}: {}".format(what, e))
  output, last_err = processes[-1].communicate()
  for process in processes:
    err = last_err if process is processes[-1] else process.stderr.read()
    process.stderr.close()
    process.wait()
    if process.returncode != 0:
      raise CorpusError("{} failed for {} (exit {}): {}".format(
          os.path.basename(process.args[0]), what, process.returncode,
          err.decode("utf-8", "replace").strip()))
  return output


def synthesize(tools, speaker, transcript, flac_path, utterance_index=0, world_pool=None):
  """espeak-ng | sox [voice transform, recording condition] -> 16 kHz 16-bit mono FLAC, written atomically.

  Training speakers get their timbre (corpus_voices.timbre_sox_effects and, for some, a WORLD
  resynthesis run in ``world_pool``); dev-other utterances get their recording condition
  (corpus_voices.proxy_condition); dev and test speakers neither.
  """
  tmp = temp_path_for(flac_path)
  sox = tools["sox"]
  commands = [espeak_command(tools["espeak-ng"], voice_spec(speaker), espeak_text(transcript),
                             speaker["speed"], speaker["pitch"], speaker.get("word_gap", 0))]
  effects = corpus_voices.timbre_sox_effects(speaker)
  condition, condition_params = (corpus_voices.proxy_condition(speaker, utterance_index)
                                 if speaker["split"] == DEV_OTHER_SPLIT else (None, {}))
  effects += corpus_voices.proxy_sox_effects(condition, condition_params)
  to_16k = ["-r", str(SAMPLE_RATE), "-b", "16", "-c", "1"]
  post = None
  if condition == "phone":
    # GSM 06.10 full-rate codec at 8 kHz, decoded back to 16 kHz.
    commands.append([sox, "-R", "-V1", "-t", "wav", "-", "-r", "8000", "-c", "1", "-t", "gsm", "-"] + effects)
    commands.append([sox, "-R", "-V1", "-t", "gsm", "-r", "8000", "-c", "1", "-"] + to_16k + ["-t", "flac", tmp])
  elif condition == "noise" or "world" in speaker:
    commands.append([sox, "-R", "-V1", "-t", "wav", "-"] + to_16k + ["-t", "wav", "-"] + effects)
    post = "noise" if condition == "noise" else "world"
  else:
    commands.append([sox, "-R", "-V1", "-t", "wav", "-"] + to_16k + ["-t", "flac", tmp] + effects)
  try:
    wav = _run_pipeline(commands, flac_path)
    if post == "world":
      world_pool.submit(corpus_voices.world_wav_to_flac, wav, speaker["world"], tmp).result()
    elif post == "noise":
      signal, rate = sf.read(io.BytesIO(wav), dtype="float64")
      noise = corpus_voices.brown_noise(len(signal), np.random.default_rng(condition_params["seed"]))
      noisy = corpus_voices.add_noise_at_snr(signal, noise, condition_params["snr_db"])
      sf.write(tmp, noisy / max(1.0, np.max(np.abs(noisy)) / 0.99), rate, subtype="PCM_16", format="FLAC")
    if os.path.getsize(tmp) == 0:
      raise CorpusError("sox wrote an empty file for {}".format(flac_path))
    os.replace(tmp, flac_path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def write_text_atomic(path, text):
  with atomic_output(path) as tmp, open(tmp, "w", encoding="ascii", newline="\n") as f:
    f.write(text)


# ---------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------

def plan_corpus(transcripts, speakers, seed, num_utterances):
  """Assigns disjoint shuffled sentences to the splits and their speakers.

  ``num_utterances`` maps split -> count. Dev and test take the first
  sentences of the shuffle, so they do not depend on the training size;
  dev-other (when it has speakers) reads the dev sentences.
  Returns {split: [(speaker dict, utt_id, transcript), ...]}.
  """
  needed = sum(num_utterances.values())
  if len(transcripts) < needed:
    raise CorpusError(
        "only {} usable sentences found but {} utterances requested; lower "
        "--num_*_utterances or widen --min_words/--max_words".format(
            len(transcripts), needed))
  order = list(transcripts)
  random.Random(seed).shuffle(order)
  plan = {}
  start = 0
  for split in (DEV_SPLIT, TEST_SPLIT, TRAIN_SPLIT, DEV_OTHER_SPLIT):
    split_speakers = [s for s in speakers if s["split"] == split]
    if split == DEV_OTHER_SPLIT:
      chunk = [transcript for _, _, transcript in plan[DEV_SPLIT]] if split_speakers else []
    else:
      count = num_utterances[split]
      chunk = order[start:start + count]
      start += count
    counters = [0] * len(split_speakers)
    items = []
    for k, transcript in enumerate(chunk):
      j = k % len(split_speakers)
      s = split_speakers[j]
      utt_id = "{}-{}-{:04d}".format(s["speaker"], s["chapter"], counters[j])
      counters[j] += 1
      items.append((s, utt_id, transcript))
    plan[split] = items
  return plan


def chapter_dir(root, split, speaker):
  return os.path.join(root, split, str(speaker["speaker"]),
                      str(speaker["chapter"]))


def speakers_table(speakers, plan, seed):
  counts = {}
  for items in plan.values():
    for s, _, _ in items:
      counts[s["speaker"]] = counts.get(s["speaker"], 0) + 1
  lines = [
      "; Synthetic espeak-ng speakers of the mini corpus "
      "(scripts/build_mini_corpus.py, seed {})".format(seed),
      "; voice and variant are espeak-ng's -v VOICE+VARIANT, speed is -s "
      "(words per minute), pitch is -p (0-99), gap is -g; training speakers' "
      "FORMANT scale and WORLD resynthesis are open_seq2seq/corpus/voices.py's",
      ";ID   | SUBSET          | VOICE           | VARIANT  | SPEED | PITCH"
      " | GAP | FORMANT | WORLD | UTTERANCES",
  ]
  for s in speakers:
    formant = "{:.3f}".format(s["formant_shift"]) if "formant_shift" in s else "-"
    lines.append("{:<5} | {:<15} | {:<15} | {:<8} | {:>5} | {:>5} | {:>3} | {:>7} | {:<5} | {}".format(
        s["speaker"], s["split"], s["voice"], s["variant"], s["speed"],
        s["pitch"], s.get("word_gap", 0), formant,
        "yes" if "world" in s else "no", counts.get(s["speaker"], 0)))
  return "\n".join(lines) + "\n"


def conditions_table(items):
  """``utt_id condition {params}`` lines of the dev-other utterances (``items`` from plan_corpus)."""
  lines = []
  for speaker, utt_id, _ in sorted(items, key=lambda item: item[1]):
    name, params = corpus_voices.proxy_condition(speaker, int(utt_id.rsplit("-", 1)[1]))
    lines.append("{} {} {}".format(utt_id, name, json.dumps(params, sort_keys=True)))
  return "\n".join(lines) + "\n"


def _check_build_info(root, info):
  path = os.path.join(root, BUILD_INFO_NAME)
  if os.path.exists(path):
    with open(path, encoding="utf-8") as f:
      try:
        old = json.load(f)
      except ValueError:
        old = None
    if old != info:
      raise CorpusError(
          "{} already holds a corpus built with different settings (see {}); "
          "use another --output_dir or delete it".format(root, path))
  else:
    write_text_atomic(path, json.dumps(info, indent=1, sort_keys=True) + "\n")


def _progress(total, initial):
  if tqdm is None:
    return None
  return tqdm(total=total, initial=initial, unit="utt", desc="synthesising",
              dynamic_ncols=True)


def build_corpus(output_dir, num_train_utterances=None, num_dev_utterances=300,
                 num_test_utterances=300, seed=0, workers=2, min_words=3,
                 max_words=18, num_train_speakers=400, num_dev_speakers=4,
                 num_test_speakers=4, num_dev_other_speakers=8, world_fraction=0.1,
                 fortune_dir=DEFAULT_FORTUNE_DIR,
                 exclude_fortune_files=DEFAULT_EXCLUDED_FORTUNE_FILES,
                 log=print):
  """Builds (or completes) the corpus; returns {split: number of utterances}.

  ``num_train_utterances`` None: every usable sentence that dev and test do
  not take. Raises CorpusError on any problem.
  """
  counts = {TRAIN_SPLIT: num_train_utterances, DEV_SPLIT: num_dev_utterances,
            TEST_SPLIT: num_test_utterances}
  for split, n in counts.items():
    if n is not None and n < 1:
      raise CorpusError("{} needs at least one utterance".format(split))
  if not 1 <= min_words <= max_words:
    raise CorpusError("need 1 <= --min_words <= --max_words")
  if workers < 1:
    raise CorpusError("--workers must be >= 1, got {}".format(workers))
  tools = find_tools()

  transcripts = collect_transcripts(fortune_dir, min_words, max_words,
                                    tuple(exclude_fortune_files))
  log("{} usable sentences in {}".format(len(transcripts), fortune_dir))
  if num_train_utterances is None:
    counts[TRAIN_SPLIT] = len(transcripts) - num_dev_utterances - num_test_utterances
    if counts[TRAIN_SPLIT] < 1:
      raise CorpusError(
          "only {} usable sentences found, none left for training after {} dev "
          "and {} test utterances".format(len(transcripts), num_dev_utterances,
                                          num_test_utterances))
  speakers = select_speakers(seed, num_train_speakers, num_dev_speakers,
                             num_test_speakers, num_dev_other_speakers, world_fraction)
  plan = plan_corpus(transcripts, speakers, seed, counts)
  check_speakers(speakers, tools["espeak-ng"], workers)

  root = os.path.join(output_dir, "LibriSpeech")
  os.makedirs(root, exist_ok=True)
  plan_digest = hashlib.sha256(json.dumps(
      {split: [[u, t] for _, u, t in items] for split, items in plan.items()},
      sort_keys=True).encode("utf-8")).hexdigest()
  _check_build_info(root, {
      "format_version": BUILD_FORMAT_VERSION,
      "seed": seed,
      "num_utterances": counts,
      "world_fraction": world_fraction,
      "min_words": min_words,
      "max_words": max_words,
      "speakers": speakers,
      "plan_sha256": plan_digest,
  })
  write_text_atomic(os.path.join(root, SPEAKERS_FILE_NAME),
                    speakers_table(speakers, plan, seed))

  splits = [split for split in SPLITS if plan[split]]
  jobs = []
  present = 0
  for split in splits:
    for s, utt_id, transcript in plan[split]:
      directory = chapter_dir(root, split, s)
      flac = os.path.join(directory, utt_id + ".flac")
      if os.path.exists(flac):
        present += 1
      else:
        jobs.append((s, transcript, flac, int(utt_id.rsplit("-", 1)[1])))
  remove_temp_files(root)
  for split in splits:
    for directory in sorted({chapter_dir(root, split, s)
                             for s, _, _ in plan[split]}):
      os.makedirs(directory, exist_ok=True)
      remove_temp_files(directory)
  if present:
    log("{} utterances already present, {} to synthesise".format(
        present, len(jobs)))

  # WORLD analysis holds the GIL: its resyntheses run in worker processes, started by spawn (fork+exec): a
  # forked worker would inherit whatever pipe a synthesis thread's Popen had open at that moment and keep
  # that Popen waiting for ever.
  world_pool = None
  if any("world" in job[0] for job in jobs):
    world_pool = ProcessPoolExecutor(max(1, workers), mp_context=multiprocessing.get_context("spawn"),
                                     initializer=corpus_voices.exit_with_parent)
  try:
    for _ in bounded_parallel_map(lambda job: synthesize(tools, *job, world_pool=world_pool), jobs, workers,
                                  _progress(present + len(jobs), present)):
      pass
  finally:
    if world_pool is not None:
      world_pool.shutdown(cancel_futures=True)

  for split in splits:
    by_chapter = {}
    for s, utt_id, transcript in plan[split]:
      by_chapter.setdefault((s["speaker"], s["chapter"], chapter_dir(
          root, split, s)), []).append((utt_id, transcript))
    for (speaker, chapter, directory), items in sorted(by_chapter.items()):
      os.makedirs(directory, exist_ok=True)
      text = "".join("{} {}\n".format(u, t) for u, t in sorted(items))
      write_text_atomic(os.path.join(directory, "{}-{}.trans.txt".format(
          speaker, chapter)), text)
    if split == DEV_OTHER_SPLIT:
      write_text_atomic(os.path.join(root, split, CONDITIONS_FILE_NAME), conditions_table(plan[split]))
    write_text_atomic(os.path.join(root, ".complete_" + split), json.dumps({
        "utterances": len(plan[split]),
        "speakers": len(by_chapter),
        "seed": seed,
    }, sort_keys=True) + "\n")
  held_out = {transcript for split in (DEV_SPLIT, TEST_SPLIT) for _, _, transcript in plan[split]}
  write_text_atomic(os.path.join(output_dir, LM_TEXT_FILE_NAME),
                    "".join(t + "\n" for t in transcripts if t not in held_out))
  return {split: len(plan[split]) for split in splits}


def parse_args(argv=None):
  parser = argparse.ArgumentParser(
      description="Synthesise a small LibriSpeech-layout corpus with espeak-ng "
                  "from the sentences of the fortunes collection.")
  parser.add_argument("--output_dir", required=True,
                      help="the corpus is written to OUTPUT_DIR/LibriSpeech/")
  parser.add_argument("--num_train_utterances", type=int, default=None,
                      help="default: every usable sentence not in dev/test "
                           "(16166 with Debian bookworm's fortunes)")
  parser.add_argument("--num_dev_utterances", type=int, default=300)
  parser.add_argument("--num_test_utterances", type=int, default=300)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--workers", type=int, default=2,
                      help="parallel espeak-ng | sox pipelines")
  parser.add_argument("--min_words", type=int, default=3)
  parser.add_argument("--max_words", type=int, default=18)
  parser.add_argument("--num_train_speakers", type=int, default=400,
                      help="training speakers, each with its own timbre")
  parser.add_argument("--num_dev_speakers", type=int, default=4)
  parser.add_argument("--num_test_speakers", type=int, default=4)
  parser.add_argument("--num_dev_other_speakers", type=int, default=8,
                      help="speakers of the out-of-domain dev proxy (dev-other: "
                           "the dev sentences, unseen variants and recording "
                           "conditions); 0 builds none")
  parser.add_argument("--world_fraction", type=float, default=0.1,
                      help="fraction of training speakers resynthesised with "
                           "the WORLD vocoder (pyworld)")
  parser.add_argument("--fortune_dir", default=DEFAULT_FORTUNE_DIR,
                      help="folder of plain-text fortune files")
  parser.add_argument("--exclude_fortune_files", nargs="*",
                      default=list(DEFAULT_EXCLUDED_FORTUNE_FILES),
                      help="fortune files not to read (default: %(default)s, "
                           "which is not English)")
  return parser.parse_args(argv)


def main(argv=None):
  args = parse_args(argv)
  try:
    sizes = build_corpus(
        args.output_dir,
        num_train_utterances=args.num_train_utterances,
        num_dev_utterances=args.num_dev_utterances,
        num_test_utterances=args.num_test_utterances,
        seed=args.seed, workers=args.workers, min_words=args.min_words,
        max_words=args.max_words, num_train_speakers=args.num_train_speakers,
        num_dev_speakers=args.num_dev_speakers,
        num_test_speakers=args.num_test_speakers,
        num_dev_other_speakers=args.num_dev_other_speakers,
        world_fraction=args.world_fraction,
        fortune_dir=args.fortune_dir,
        exclude_fortune_files=args.exclude_fortune_files)
  except CorpusError as e:
    print("build_mini_corpus.py: error: {}".format(e), file=sys.stderr)
    return 1
  except KeyboardInterrupt:
    print("build_mini_corpus.py: interrupted; run the same command again to "
          "resume", file=sys.stderr)
    return 130
  print("done: " + ", ".join("{} {} utterances".format(split, n)
                             for split, n in sizes.items()))
  return 0


if __name__ == "__main__":
  sys.exit(main())

"""Sentences of the mini corpus: the usable English sentences of the fortunes collection, as transcripts.

The sentences are real English text taken from the ``fortunes`` collection (/usr/share/games/fortunes),
filtered so that what espeak-ng says is exactly what the transcript holds (no digits, symbols, abbreviations
or acronyms). A transcript is LibriSpeech-style: A-Z, apostrophe and single spaces.
"""
import os
import re
import unicodedata

from open_seq2seq.corpus.errors import CorpusError

DEFAULT_FORTUNE_DIR = "/usr/share/games/fortunes"
# "translate-me" holds Latin and other non-English text; "off" (a folder in
# some distributions) holds offensive fortunes and is never read.
DEFAULT_EXCLUDED_FORTUNE_FILES = ("translate-me",)
EXCLUDED_FORTUNE_SUBDIRS = ("off",)

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
  in ``excluded``. Raises CorpusError when the folder is missing or holds no
  such file.
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
  """Unique usable transcripts in a deterministic (file, entry) order.

  ``min_words``/``max_words`` bound a transcript's word count; ``excluded``
  names fortune files not to read. Raises CorpusError as list_fortune_files.
  """
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

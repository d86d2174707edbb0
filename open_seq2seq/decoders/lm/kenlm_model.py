"""A word n-gram LM queried through KenLM (``kenlm.Model``) for the pyctcdecode beam search: an ARPA file (plain
or gzip, whatever its name) or a KenLM binary (build_binary output).

KenLM scores the words as the file spells them, so the decoder's words (in the vocabulary's case) are respelled
in the LM's case before each query. The LM's spelling of each word is read from its unigrams: the ``\\1-grams:``
section of an ARPA file, or the vocabulary strings KenLM's build_binary stores at the end of a binary file (the
file's header gives their number; the first must be ``<unk>``, as KenLM checks when it reads them). Each word is
folded to the vocabulary's case (``alphabet.case_folder``) and mapped back to its LM spelling; where an LM holds
several spellings of one folded word (``The``/``THE``), the likeliest unigram is kept, as the in-house reader
keeps the likelier n-gram. So LibriSpeech's upper-case LMs, lower-case ones and mixed-case ones all score the
decoder's lower-case words, with no case guessed from a single probe word.
"""
import bisect
import re
import struct

import kenlm

from .alphabet import SPECIAL_WORDS, case_folder, check_spelling
from .text_files import KENLM_BINARY_MAGIC, read_text_lines
from open_seq2seq.utils.files import refuse_special_file

# What KenLM gives a word outside an LM that has no <unk> (lm/config.cc: unknown_missing_logprob).
KENLM_UNKNOWN_LOG10_PROB = -100.0
# KenLM's binary header (lm/binary_format.cc): the Sanity block (magic padded to 8 bytes, three floats, three
# word indices, one uint64), then FixedWidthParameters (order, probing multiplier, model type, has_vocabulary,
# search version: 20 bytes with its padding), then one uint64 n-gram count per order.
_BINARY_SANITY_SIZE = 88
_BINARY_FIXED = struct.Struct("<B3xfi?3xI")
_READ_CHUNK = 1 << 20


def _kenlm_config():
  config = kenlm.Config()
  config.show_progress = False  # KenLM otherwise draws a progress bar of stars on stderr
  config.arpa_complain = kenlm.ARPALoadComplain.NONE  # the missing <unk> is one of this module's notes
  return config


def open_kenlm(path):
  """``kenlm.Model`` of ``path``; ValueError naming the file, on one line, when KenLM cannot read it."""
  try:
    return kenlm.Model(path, _kenlm_config())
  except (OSError, RuntimeError) as error:
    reason = str(error)
    inner = re.search(r"\((.*)\)\s*$", reason, re.DOTALL)
    reason = " ".join((inner.group(1) if inner else reason).split())
    reason = "".join(c if c.isprintable() else "?" for c in reason)
    hint = "; KenLM wants the sentence markers spelled <s> and </s> (--lm_backend in_house folds their case)" \
        if "missing <s>" in reason or "missing </s>" in reason else ""
    raise ValueError("{}: KenLM cannot read it as an ARPA or binary LM ({}){}".format(
        path, reason if len(reason) <= 300 else reason[:300] + "...", hint)) from None


def arpa_unigrams(path):
  """The words of the ``\\1-grams:`` section of the ARPA file ``path`` (plain or gzip), as the file spells them.
  Raises ValueError naming the file (and line) for a file without unigrams or one that is not UTF-8 text."""
  words, inside = [], False
  for number, line in read_text_lines(path):
    line = line.strip()
    if line == "\\1-grams:":
      inside = True
    elif inside and line.startswith("\\"):
      break
    elif inside and line:
      fields = line.split()
      if len(fields) not in (2, 3):
        raise ValueError("{}:{}: expected 'log10prob word [backoff]' in the 1-grams, got {!r}".format(
            path, number, line))
      words.append(fields[1])
  if not words:
    raise ValueError("{}: no \\1-grams: section with words (not an ARPA file?)".format(path))
  return words


def binary_vocabulary(path):
  """The vocabulary strings at the end of the KenLM binary ``path`` (``<unk>`` first), as the LM spells them.
  Raises ValueError naming the file when its header announces none or they are not where KenLM writes them."""
  with open(path, "rb") as handle:
    handle.seek(_BINARY_SANITY_SIZE)
    fixed = handle.read(_BINARY_FIXED.size)
    if len(fixed) < _BINARY_FIXED.size:
      raise ValueError("{}: a KenLM binary whose header is cut short".format(path))
    order, _, _, has_vocabulary, _ = _BINARY_FIXED.unpack(fixed)
    counts = handle.read(8 * order)
    if not order or len(counts) < 8 * order:
      raise ValueError("{}: a KenLM binary whose header is cut short".format(path))
    if not has_vocabulary:
      raise ValueError("{}: a KenLM binary built without its vocabulary strings (build_binary -v); the decoder needs "
                       "the LM's words: rebuild it without -v or pass the ARPA file".format(path))
    unigrams = struct.unpack("<Q", counts[:8])[0]
    size = handle.seek(0, 2)
    tail = b""
    # The strings are NUL-terminated, <unk> first, right after the search tables (so the first piece split off
    # ends in <unk>). A probing binary of an ARPA file without <unk> holds one string more than its unigram count
    # (KenLM adds <unk>, with build_binary -u's probability, default log10 -100).
    while True:
      start = max(0, size - len(tail) - _READ_CHUNK)
      handle.seek(start)
      tail = handle.read(size - len(tail) - start) + tail
      strings = tail.split(b"\0")[:-1]
      for count in (unigrams, unigrams + 1):
        if len(strings) >= count and strings[-count].endswith(b"<unk>"):
          return ["<unk>"] + [word.decode("utf-8", "replace") for word in strings[len(strings) - count + 1:]]
      if start == 0 or len(strings) > unigrams + 2:
        raise ValueError("{}: no vocabulary strings at the end of this KenLM binary (a truncated file?)".format(path))


class KenlmLanguageModel:
  """A KenLM model and its words: ``vocabulary`` (in the decoder's case, ``<s>``, ``</s>``, ``<unk>`` left out),
  ``lm_word(word)`` (the LM's spelling of a decoder word) and ``is_word_prefix``. Pickled by path: a worker started
  by fork shares the parent's model, one started by spawn reads the file again."""

  def __init__(self, path, model, words, labels):
    """``model``: ``kenlm.Model`` of ``path``; ``words``: its unigrams as spelled in the file; ``labels``: the
    decoder's characters, whose case the words are folded to."""
    self.path = path
    self.model = model
    self.order = model.order
    self.has_unknown = any(word.lower() == "<unk>" for word in words)
    fold = case_folder(labels) or (lambda word: word)
    spellings = {}
    for word in words:
      if word.lower() not in SPECIAL_WORDS:
        spellings.setdefault(fold(word), []).append(word)
    self._respell = {}
    for folded, spelled in spellings.items():
      best = spelled[0] if len(spelled) == 1 else max(spelled, key=self._unigram_log10_prob)
      if best != folded:
        self._respell[folded] = best
    self.merged_spellings = sum(len(spelled) - 1 for spelled in spellings.values())
    self.vocabulary = frozenset(spellings)
    self._sorted_words = sorted(spellings)

  def _unigram_log10_prob(self, word):
    state, out = kenlm.State(), kenlm.State()
    self.model.NullContextWrite(state)
    return self.model.BaseScore(state, word, out)

  def lm_word(self, word):
    """``word`` as the LM spells it (``THE`` for ``the`` in an upper-case LM); unknown words are left as they are."""
    return self._respell.get(word, word)

  @property
  def respelled(self):
    """Number of vocabulary words whose LM spelling differs from the decoder's."""
    return len(self._respell)

  def is_word_prefix(self, partial_word):
    """True if ``partial_word`` (decoder case) starts (or is) a word of the LM's vocabulary."""
    index = bisect.bisect_left(self._sorted_words, partial_word)
    return index < len(self._sorted_words) and self._sorted_words[index].startswith(partial_word)

  def __getstate__(self):
    state = dict(self.__dict__)
    del state["model"]
    return state

  def __setstate__(self, state):
    self.__dict__.update(state)
    self.model = open_kenlm(self.path)


def load_kenlm_model(path, labels):
  """Reads the LM ``path`` (ARPA, plain or gzip, or KenLM binary) for the character ``labels``.

  Returns ``(KenlmLanguageModel, notes)``: notes for the user as ``alphabet.load_language_model`` gives them (words
  respelled in the LM's case, no ``<unk>``, words the vocabulary cannot spell). Raises OSError for a missing file,
  ValueError naming the file for anything else that cannot be read or used.
  """
  refuse_special_file(path)
  with open(path, "rb") as probe:
    binary = probe.read(len(KENLM_BINARY_MAGIC)) == KENLM_BINARY_MAGIC
  if binary:
    model = open_kenlm(path)
    words = binary_vocabulary(path)
  else:
    words = arpa_unigrams(path)
    model = open_kenlm(path)
  lm = KenlmLanguageModel(path, model, words, labels)
  notes = []
  if lm.respelled:
    notes.append("{}: {} words scored in the LM's spelling (the vocabulary is {}-case){}".format(
        path, lm.respelled, "lower" if case_folder(labels) is str.lower else "upper",
        "; {} spellings differing only in case left to the likeliest".format(lm.merged_spellings)
        if lm.merged_spellings else ""))
  folded = sorted(lm.vocabulary) + (["<unk>"] if lm.has_unknown else [])
  notes += check_spelling(folded, labels, path, KENLM_UNKNOWN_LOG10_PROB)
  return lm, notes

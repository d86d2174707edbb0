"""Matching an ARPA model's words to the acoustic model's characters: letters folded to the vocabulary's
case (LibriSpeech's published LMs are upper-case, its vocabulary lower-case), words that the vocabulary
cannot spell counted, and a model that could hardly ever be consulted refused."""
from .arpa_model import BEGIN_OF_SENTENCE, END_OF_SENTENCE, UNKNOWN_LOG10_PROB, UNKNOWN_WORD, ArpaLanguageModel, \
    read_arpa
from .text_files import read_text_lines

SPECIAL_WORDS = frozenset([BEGIN_OF_SENTENCE, END_OF_SENTENCE, UNKNOWN_WORD])
# Below this share of spellable words the LM is of another language or alphabet (or another text
# normalisation): beam search would score nearly every hypothesis as <unk> and do worse than greedy.
MIN_SPELLABLE_FRACTION = 0.5


def case_folder(labels):
  """``str.lower`` or ``str.upper`` when every cased character of ``labels`` is lower or upper case,
  else None (a mixed-case vocabulary keeps the LM's spelling)."""
  cased = [c for c in labels if c.lower() != c.upper()]
  if cased and all(c == c.lower() for c in cased):
    return str.lower
  if cased and all(c == c.upper() for c in cased):
    return str.upper
  return None


def _fold_word(word, fold):
  # <s>, </s> and <unk> are markers, not words: always spelled as the decoder looks them up.
  return word.lower() if word.lower() in SPECIAL_WORDS else fold(word)


def _fold_ngrams(ngrams, fold):
  """``ngrams`` with every word folded; where two spellings meet (``The``/``THE``) the likelier entry stays.
  Returns (folded n-grams, number of merged entries)."""
  folded, merged = {}, 0
  for order, table in ngrams.items():
    target = folded[order] = {}
    for words, entry in table.items():
      key = tuple(_fold_word(w, fold) for w in words)
      kept = target.get(key)
      if kept is not None:
        merged += 1
        if kept[0] >= entry[0]:
          continue
      target[key] = entry
  return folded, merged


def fit_to_labels(ngrams, labels, source):
  """Adapts parsed ARPA n-grams (``{order: {words: (log10 prob, back-off)}}``) to the character ``labels``.

  Returns ``(ngrams, notes)``: the n-grams with words in the vocabulary's case and lines for the user (case
  folded, merged spellings, words with characters outside ``labels``). Raises ValueError naming ``source``
  when fewer than MIN_SPELLABLE_FRACTION of the LM's words can be spelled with ``labels``.
  """
  notes = []
  fold = case_folder(labels)
  if fold is not None and any(_fold_word(w, fold) != w for (w,) in ngrams[1]):
    ngrams, merged = _fold_ngrams(ngrams, fold)
    notes.append("{}: words {}-cased to match the vocabulary{}".format(
        source, "lower" if fold is str.lower else "upper",
        "; {} n-grams differing only in case merged (the likelier kept)".format(merged) if merged else ""))
  notes += check_spelling([w for (w,) in ngrams[1]], labels, source, UNKNOWN_LOG10_PROB)
  return ngrams, notes


def check_spelling(words, labels, source, unknown_log10_prob):
  """Notes on an LM's unigram ``words`` (in the vocabulary's case) for the character ``labels``: no ``<unk>``
  (words outside the LM then get ``unknown_log10_prob``), words with characters outside ``labels``. Raises
  ValueError naming ``source`` when the LM holds no words or fewer than MIN_SPELLABLE_FRACTION can be spelled."""
  notes = []
  alphabet = set(labels) - {" "}
  plain = [w for w in words if w not in SPECIAL_WORDS]
  outside = [w for w in plain if not set(w) <= alphabet]
  spellable = len(plain) - len(outside)
  if not plain:
    raise ValueError("{}: the LM holds no words besides <s>, </s> and <unk>".format(source))
  if spellable < MIN_SPELLABLE_FRACTION * len(plain):
    raise ValueError("{}: only {} of the LM's {} words can be spelled with the vocabulary {!r} (e.g. {}); "
                     "expected an LM of the model's language and alphabet".format(
                         source, spellable, len(plain), "".join(labels), ", ".join(repr(w) for w in outside[:3])))
  if UNKNOWN_WORD not in words:
    notes.append("{}: no <unk> 1-gram (an LM built without -unk); words outside the LM get log10 probability "
                 "{:g}".format(source, unknown_log10_prob))
  if outside:
    notes.append("{}: {} of {} words have characters outside the vocabulary and can never be decoded "
                 "(e.g. {})".format(source, len(outside), len(plain), ", ".join(repr(w) for w in outside[:3])))
  return notes


def load_language_model(path, labels):
  """Reads and validates the ARPA file ``path`` (plain or gzip) for the character ``labels``.

  Returns ``(ArpaLanguageModel, notes)`` (see fit_to_labels); raises ValueError naming the file (and line).
  """
  ngrams = read_arpa((line for _, line in read_text_lines(path)), path)
  ngrams, notes = fit_to_labels(ngrams, labels, path)
  return ArpaLanguageModel(ngrams), notes

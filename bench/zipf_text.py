"""Zipfian word text with a steered number of distinct n-grams: the training text of the language models of
bench/lm_scale.py, which need 10^4 to 10^7 n-grams.

Sentences of ``min_words``-``max_words`` words (uniform) are drawn word by word from a Zipf distribution over
a ranked vocabulary, P(rank r) ~ 1 / r^exponent, and written chunk by chunk while the distinct n-grams of
orders 1..order are counted the way lmplz's ARPA header counts them: a sentence is padded with ``<s>`` and
``</s>``, no n-gram crosses a sentence, and the 1-grams are the words used plus ``<s>``, ``</s>`` and ``<unk>``.
Generation stops once their total reaches the target; each chunk is sized to the remaining gap by the previous
chunk's yield of new n-grams per word, which only falls as the text grows, so the total approaches the target
from below and ends at most one chunk (a sentence, near the end) above it.
"""
import collections
import math

import numpy as np

BEGIN, END = 0, 1  # token ids of <s> and </s>; word rank r (0-based) is token id r + 2
SPECIAL_UNIGRAMS = 3  # <s>, </s> and <unk>, which lmplz lists whatever the text
LETTERS = "abcdefghijklmnopqrstuvwxyz"

NgramTotals = collections.namedtuple("NgramTotals", ["per_order", "sentences", "words"])
NgramTotals.__doc__ = """``per_order``: {order: distinct n-grams as an ARPA header counts them}; ``sentences`` and
``words``: how much text was written."""


def synthetic_word(index):
  """The ``index``-th (0-based) word of the sequence a, b, ..., z, aa, ab, ... (bijective base 26)."""
  letters = []
  index += 1
  while index:
    index, digit = divmod(index - 1, len(LETTERS))
    letters.append(LETTERS[digit])
  return "".join(reversed(letters))


def ranked_vocabulary(size, word_files=(), alphabet=None):
  """``size`` distinct lower-case words, the likeliest first: the words of ``word_files`` (text or word lists)
  by falling frequency (ties: first seen), without those using characters outside ``alphabet`` (a set; None:
  any), then synthetic words (a, b, ..., aa, ...) that are not taken yet."""
  counts = collections.Counter()
  for path in word_files:
    with open(path, encoding="utf-8", errors="replace") as handle:
      for line in handle:
        counts.update(line.lower().split())
  words = [word for word, _ in counts.most_common()
           if word not in ("<s>", "</s>", "<unk>") and (alphabet is None or set(word) <= alphabet)][:size]
  taken, index = set(words), 0
  while len(words) < size:
    word = synthetic_word(index)
    index += 1
    if word not in taken:
      words.append(word)
      taken.add(word)
  return words


class DistinctNgrams:
  """The distinct n-grams (orders 1..order) of token-id sentences, each kept as one int64 key per order."""

  def __init__(self, order, vocabulary_size):
    self.order = order
    self.bits = max(1, math.ceil(math.log2(vocabulary_size + 2)))
    if self.bits * order > 63:
      raise ValueError("{} words at order {} do not fit one 63-bit key per n-gram".format(vocabulary_size, order))
    self._keys = {k: np.zeros(0, dtype=np.int64) for k in range(1, order + 1)}

  def add(self, tokens):
    """Adds the n-grams of ``tokens``: concatenated sentences, each ``<s> w1 ... wn </s>`` (token ids)."""
    tokens = np.asarray(tokens, dtype=np.int64)
    ends_before = np.concatenate([[0], np.cumsum(tokens == END)])  # </s> among tokens[:i]
    for k in range(1, self.order + 1):
      starts = np.arange(len(tokens) - k + 1)
      # no </s> inside the window but at its end: the n-gram stays within one sentence
      valid = ends_before[starts + k - 1] == ends_before[starts]
      if k == 1:
        valid &= tokens[starts] > END
      keys = np.zeros(int(valid.sum()), dtype=np.int64)
      for j in range(k):
        keys = (keys << self.bits) | tokens[starts[valid] + j]
      self._keys[k] = np.union1d(self._keys[k], keys)

  def counts(self):
    """{order: distinct n-grams}, the 1-grams with ``<s>``, ``</s>`` and ``<unk>`` added as lmplz lists them."""
    return {k: len(keys) + (SPECIAL_UNIGRAMS if k == 1 else 0) for k, keys in self._keys.items()}


def _sentences(rng, cumulative, count, min_words, max_words):
  """Token ids of ``count`` padded sentences, concatenated, and their number of words."""
  lengths = rng.integers(min_words, max_words + 1, size=count)
  words = np.searchsorted(cumulative, rng.random(int(lengths.sum())), side="right") + 2
  ends = np.cumsum(lengths + 2)
  tokens = np.empty(int(ends[-1]), dtype=np.int64)
  inside = np.ones(len(tokens), dtype=bool)
  inside[ends - lengths - 2] = inside[ends - 1] = False
  tokens[ends - lengths - 2], tokens[ends - 1] = BEGIN, END
  tokens[inside] = words
  return tokens, int(lengths.sum())


def write_zipf_text(path, target_ngrams, vocabulary, order=3, exponent=1.0, min_words=5, max_words=25, seed=0,
                    progress=None):
  """Writes sentences to ``path`` until their distinct n-grams of orders 1..``order`` total at least
  ``target_ngrams``; returns NgramTotals. ``vocabulary``: the words by rank (see ranked_vocabulary);
  ``progress``: called with a line after each chunk."""
  if target_ngrams < 1 or not vocabulary or not 1 <= min_words <= max_words:
    raise ValueError("need a target >= 1, a vocabulary and 1 <= min_words <= max_words")
  rng = np.random.default_rng(seed)
  weights = 1.0 / np.arange(1, len(vocabulary) + 1, dtype=np.float64) ** exponent
  cumulative = np.cumsum(weights / weights.sum())
  cumulative[-1] = 1.0
  words_of = np.array(["<s>", "</s>"] + list(vocabulary), dtype=object)
  distinct = DistinctNgrams(order, len(vocabulary))
  total, sentences, words = 0, 0, 0
  mean_length = (min_words + max_words) / 2.0
  chunk = max(1, int(target_ngrams / mean_length / 3))
  with open(path, "w", encoding="utf-8") as handle:
    while total < target_ngrams:
      tokens, chunk_words = _sentences(rng, cumulative, chunk, min_words, max_words)
      lines = " ".join(words_of[tokens]).replace("<s> ", "").replace(" </s>", "\n")
      handle.write(lines.replace("\n ", "\n"))
      distinct.add(tokens)
      before, total = total, sum(distinct.counts().values())
      sentences, words = sentences + chunk, words + chunk_words
      if progress:
        progress("  {} sentences, {} words: {} distinct n-grams of {}".format(sentences, words, total, target_ngrams))
      new_per_word = max(total - before, 1) / chunk_words
      chunk = max(1, int((target_ngrams - total) / new_per_word / mean_length))
  return NgramTotals(distinct.counts(), sentences, words)

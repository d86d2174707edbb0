"""Interpolated Kneser-Ney estimation of a word n-gram model from sentences, written as ARPA.

Lower orders use continuation counts (how many distinct words precede an n-gram), except n-grams that
start with ``<s>``, which nothing can precede and which keep their raw counts (as KenLM's lmplz does).
Each order has one absolute discount D = n1 / (n1 + 2 n2) from its count-of-counts; the unigrams are
interpolated with a uniform distribution over the vocabulary, ``<unk>`` included, so unseen words get mass.
Words of a lexicon that the text never uses (``extra_vocabulary``) join that vocabulary: they get only the
uniform share, which makes them far cheaper for the decoder than a spelling outside every word list.
"""
import collections
import math

from .arpa_model import BEGIN_OF_SENTENCE, END_OF_SENTENCE, LOG10_ZERO, UNKNOWN_WORD

FALLBACK_DISCOUNT = 0.5


def _discount(counts):
  """Ney's estimate from the number of n-grams seen once and twice; 0.5 when either is missing (toy data)."""
  histogram = collections.Counter(count for count in counts.values() if count <= 2)
  once, twice = histogram[1], histogram[2]
  if once == 0 or twice == 0:
    return FALLBACK_DISCOUNT
  return once / (once + 2.0 * twice)


def _count(sentences, order):
  """Raw counts of the top order, adjusted (continuation) counts of the lower ones."""
  raw = [collections.Counter() for _ in range(order + 1)]
  for words in sentences:
    tokens = [BEGIN_OF_SENTENCE] + list(words) + [END_OF_SENTENCE]
    for k in range(1, order + 1):
      for start in range(len(tokens) - k + 1):
        ngram = tuple(tokens[start:start + k])
        if ngram != (BEGIN_OF_SENTENCE,):
          raw[k][ngram] += 1
  adjusted = {order: raw[order]}
  for k in range(order - 1, 0, -1):
    counts = collections.Counter()
    for ngram in raw[k + 1]:
      counts[ngram[1:]] += 1
    for ngram, count in raw[k].items():
      if ngram[0] == BEGIN_OF_SENTENCE:
        counts[ngram] = count
    adjusted[k] = counts
  return adjusted


def estimate_kneser_ney(sentences, order=3, extra_vocabulary=()):
  """``{k: {ngram: (log10 prob, log10 back-off)}}`` for k = 1..order from an iterable of word lists.

  ``extra_vocabulary``: more words (e.g. a pronunciation lexicon's) that become unigrams of the model.
  """
  if order < 1:
    raise ValueError("order must be at least 1, got {}".format(order))
  sentences = [list(words) for words in sentences]
  if not any(sentences):
    raise ValueError("no words to estimate a language model from")
  adjusted = _count(sentences, order)
  vocabulary = sorted(set(word for (word,) in adjusted[1]) | set(extra_vocabulary) | {UNKNOWN_WORD, END_OF_SENTENCE})
  probabilities = {}
  back_offs = {}

  unigram_total = sum(adjusted[1].values())
  discount = _discount(adjusted[1])
  uniform_share = discount * len(adjusted[1]) / unigram_total / len(vocabulary)
  probabilities[1] = {(word,): max(adjusted[1].get((word,), 0) - discount, 0.0) / unigram_total + uniform_share
                      for word in vocabulary}

  for k in range(2, order + 1):
    counts = adjusted[k]
    discount = _discount(counts)
    totals, types = collections.Counter(), collections.Counter()
    for ngram, count in counts.items():
      totals[ngram[:-1]] += count
      types[ngram[:-1]] += 1
    weights = {context: discount * types[context] / totals[context] for context in totals}
    back_offs[k - 1] = weights
    # Every counted n-gram's suffix is itself counted one order down, so the lower estimate is a lookup.
    lower = probabilities[k - 1]
    probabilities[k] = {ngram: (count - discount) / totals[ngram[:-1]] + weights[ngram[:-1]] * lower[ngram[1:]]
                        for ngram, count in counts.items()}

  model = {}
  for k in range(1, order + 1):
    weights = back_offs.get(k, {})
    model[k] = {ngram: (math.log10(prob), math.log10(weights[ngram]) if ngram in weights else 0.0)
                for ngram, prob in probabilities[k].items()}
  begin_weight = back_offs.get(1, {}).get((BEGIN_OF_SENTENCE,))
  model[1][(BEGIN_OF_SENTENCE,)] = (LOG10_ZERO, math.log10(begin_weight) if begin_weight else 0.0)
  return model


def write_arpa(model, handle):
  """Writes ``model`` ({k: {ngram: (log10 prob, log10 back-off)}}) in ARPA text format."""
  order = max(model)
  handle.write("\n\\data\\\n")
  for k in range(1, order + 1):
    handle.write("ngram {}={}\n".format(k, len(model[k])))
  for k in range(1, order + 1):
    handle.write("\n\\{}-grams:\n".format(k))
    for ngram in sorted(model[k]):
      log_prob, back_off = model[k][ngram]
      if k < order:
        handle.write("{:.6f}\t{}\t{:.6f}\n".format(log_prob, " ".join(ngram), back_off))
      else:
        handle.write("{:.6f}\t{}\n".format(log_prob, " ".join(ngram)))
  handle.write("\n\\end\\\n")

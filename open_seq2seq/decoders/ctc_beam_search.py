"""CTC prefix beam search with an optional word n-gram language model (shallow fusion), as in the
reference's decoders (Baidu's ctc_decoders with a KenLM scorer):

    score(prefix) = ln P_ctc(prefix | audio) + alpha * ln P_lm(words) + beta * number of words

A word is scored by the LM when the space after it is emitted, and the last word at the end of the
utterance; the context starts with ``<s>``. Per frame only the most likely characters are expanded: those
whose probabilities sum to ``cutoff_prob``, at most ``cutoff_top_n`` of them.
"""
import heapq
import math

import numpy as np

from .lm.arpa_model import BEGIN_OF_SENTENCE

NEG_INF = -float("inf")
LN_10 = math.log(10.0)


def _log_add(a, b):
  if a == NEG_INF:
    return b
  if b == NEG_INF:
    return a
  if a > b:
    return a + math.log1p(math.exp(b - a))
  return b + math.log1p(math.exp(a - b))


def log_softmax(logits):
  """Row-wise log-softmax of ``[T, V+1]`` logits, in float64."""
  logits = np.asarray(logits, dtype=np.float64)
  shifted = logits - logits.max(axis=-1, keepdims=True)
  return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


class WordScorer:
  """``alpha * ln P(word | previous words) + beta`` from an ARPA model, memoised per (context, word).

  A word outside the model's vocabulary also gets ``unknown_word_offset``: P(<unk>) is the mass of every
  unseen word together, far more than any one misspelling deserves. The offset is charged as soon as the
  word being spelled stops being a prefix of a vocabulary word, so such beams lose their place early.
  """

  def __init__(self, language_model, alpha, beta, unknown_word_offset=-10.0):
    self.language_model = language_model
    self.alpha = alpha
    self.beta = beta
    self.unknown_word_offset = unknown_word_offset
    self._word_prefixes = {word[:end] for word in language_model.vocabulary for end in range(1, len(word) + 1)}
    self._cache = {}

  def is_word_prefix(self, partial_word):
    """True if ``partial_word`` is a prefix of (or equal to) a word of the language model's vocabulary."""
    return partial_word in self._word_prefixes

  def score(self, words, offset_charged=False):
    """Score of the last of ``words`` given those before it; ``offset_charged``: its spelling already paid
    the unknown-word offset."""
    context = (BEGIN_OF_SENTENCE,) + tuple(words[:-1])
    context = context[max(0, len(context) - (self.language_model.order - 1)):] \
        if self.language_model.order > 1 else ()
    key = (context, words[-1])
    value = self._cache.get(key)
    if value is None:
      value = self.alpha * self.language_model.log10_prob(words[-1], context) * LN_10 + self.beta
      self._cache[key] = value
    if not offset_charged and words[-1] not in self.language_model.vocabulary:
      value += self.unknown_word_offset
    return value


def _candidates(frame, blank, cutoff_prob, cutoff_top_n):
  order = np.argsort(-frame)[:cutoff_top_n]
  if cutoff_prob >= 1.0:
    return [int(i) for i in order]
  cumulative, chosen = 0.0, []
  for index in order:
    chosen.append(int(index))
    cumulative += math.exp(frame[index])
    if cumulative >= cutoff_prob:
      break
  return chosen


def _extend(prefix, character, last, lm_score, left_vocabulary, scorer, space):
  """Beam entry of ``prefix + character`` with its LM score: a finished word is scored at its space, a word
  being spelled pays the unknown-word offset when it stops being a vocabulary prefix."""
  if scorer is None:
    return [NEG_INF, NEG_INF, lm_score, False]
  if character == space:
    if last in (None, space):
      return [NEG_INF, NEG_INF, lm_score, False]
    return [NEG_INF, NEG_INF, lm_score + scorer.score(prefix.split(), left_vocabulary), False]
  if left_vocabulary:
    return [NEG_INF, NEG_INF, lm_score, True]
  partial_word = (prefix + character).rsplit(space, 1)[-1]
  if scorer.is_word_prefix(partial_word):
    return [NEG_INF, NEG_INF, lm_score, False]
  return [NEG_INF, NEG_INF, lm_score + scorer.unknown_word_offset, True]


def ctc_beam_search(log_probs, labels, beam_width=128, scorer=None, blank=None, space=" ", cutoff_prob=1.0,
                    cutoff_top_n=40):
  """Best transcripts of one utterance, ``[(text, score), ...]`` best first, at most ``beam_width``.

  ``log_probs``: ``[T, V+1]`` natural-log probabilities (see ``log_softmax``); ``labels``: the V characters,
  blank is column ``blank`` (default: the last). ``scorer``: a ``WordScorer`` or None for plain CTC.
  """
  log_probs = np.asarray(log_probs, dtype=np.float64)
  if log_probs.ndim != 2 or log_probs.shape[1] != len(labels) + 1:
    raise ValueError("expected log-probabilities of shape [T, {}] (the {} labels plus blank), got {}".format(
        len(labels) + 1, len(labels), list(log_probs.shape)))
  blank = len(labels) if blank is None else blank
  characters = list(labels[:blank]) + [None] + list(labels[blank:])
  # prefix text -> [ln P(ending in blank), ln P(ending in a character), LM score so far, whether the word
  # being spelled has left the vocabulary (and paid the unknown-word offset)]
  beams = {"": [0.0, NEG_INF, 0.0, False]}
  for frame in log_probs:
    candidates = _candidates(frame, blank, cutoff_prob, cutoff_top_n)
    extended = {}
    for prefix, (blank_prob, char_prob, lm_score, left_vocabulary) in beams.items():
      total = _log_add(blank_prob, char_prob)
      last = prefix[-1] if prefix else None
      for index in candidates:
        prob = frame[index]
        if index == blank:
          entry = extended.setdefault(prefix, [NEG_INF, NEG_INF, lm_score, left_vocabulary])
          entry[0] = _log_add(entry[0], total + prob)
          continue
        character = characters[index]
        if character == last:
          entry = extended.setdefault(prefix, [NEG_INF, NEG_INF, lm_score, left_vocabulary])
          entry[1] = _log_add(entry[1], char_prob + prob)
          source = blank_prob
        else:
          source = total
        if source == NEG_INF:
          continue
        new_prefix = prefix + character
        entry = extended.get(new_prefix)
        if entry is None:
          entry = extended[new_prefix] = _extend(prefix, character, last, lm_score, left_vocabulary, scorer, space)
        entry[1] = _log_add(entry[1], source + prob)
    beams = dict(heapq.nlargest(beam_width, extended.items(),
                                key=lambda item: _log_add(item[1][0], item[1][1]) + item[1][2]))
  results = []
  for prefix, (blank_prob, char_prob, lm_score, left_vocabulary) in beams.items():
    if scorer is not None and prefix and prefix[-1] != space:
      lm_score += scorer.score(prefix.split(), left_vocabulary)
    results.append((" ".join(prefix.split()), _log_add(blank_prob, char_prob) + lm_score))
  results.sort(key=lambda item: -item[1])
  return results

"""CTC beam search by pyctcdecode (``BeamSearchDecoderCTC``) with a KenLM word n-gram LM, fused exactly as the
in-house search (ctc_beam_search.py) fuses it, so that the same flags mean the same in both backends:

    score(prefix) = ln P_ctc(prefix | audio) + alpha * ln P_lm(words) + beta * number of words
                    + unknown_word_offset per word outside the LM's vocabulary

- ``alpha`` multiplies the natural log of the LM probability (KenLM returns log10; it is multiplied by ln 10).
  Baidu's ctc_decoders, which the reference's decode.py runs, multiply log10 P by alpha: a reference alpha
  a_ref is ``a_ref / ln 10`` here (0.43 a_ref), in both backends. ``beta`` is added once per word.
- ``unknown_word_offset`` (natural log, not scaled by alpha) is charged once per word outside the LM's
  vocabulary, as soon as its spelling stops being a prefix of a vocabulary word (pyctcdecode's partial-word
  score) and then for the finished word instead. pyctcdecode's own ``LanguageModel`` differs: its
  ``unk_score_offset`` is multiplied by alpha * ln 10 for a finished word but not for a partial one, where it
  also grows with the length past 6 letters, its last word also scores ``</s>``, and an utterance that ends in a
  space has its empty last word scored as an unknown word. This module's ``FusedKenlmScorer`` (pyctcdecode's
  ``AbstractLanguageModel`` interface) keeps the in-house rule. Measured on the mini corpus's dev-clean set without
  beam pruning (alpha 0.7, offset -15, in-house 12.01 %): the stock class with the offset mapped for finished words
  (-15 / (alpha ln 10)) gave 13.2 %, mostly from the trailing space (11.3 % with that alone fixed), this scorer
  12.0 % (11.8 % with pyctcdecode's history pruning below).
- The context starts with ``<s>``; ``</s>`` is not scored (as in the in-house and Baidu decoders).
- ``beam_width`` is pyctcdecode's. ``cutoff_prob`` and ``cutoff_top_n`` have no pyctcdecode parameter (it prunes
  characters by a fixed log-probability, ``token_min_logp``): the characters the in-house rule would not expand
  are set to probability 0 before the search, which pyctcdecode then skips, so both expand the same characters
  per frame (except characters below e^-33, which pyctcdecode always skips). pyctcdecode renormalises the frame
  over the kept characters; that adds the same amount to every beam, and the scores returned add it back.
- pyctcdecode keeps a prefix ending in a blank and the same prefix ending in its last character as two beams
  (merged at the end), so a beam width holds fewer distinct prefixes than in the in-house search, and the
  probability of a variant pruned on the way is lost (scores a few hundredths lower).
- Two pruning rules of pyctcdecode have no in-house counterpart: beams more than BEAM_PRUNE_LOGP below the best
  are dropped, and of beams that agree on the last order-1 words, the word being spelled and the last character
  only the best is kept (``prune_history``: the others can never overtake it, so the best transcript is
  unchanged; the beam dump lacks them). BEAM_PRUNE_LOGP, measured with bench/lm_backends.py on the mini corpus
  (alpha 0.7, offset -15, beam 128; in-house 12.01 % dev-clean, 27.05 % dev-other): -15 gives 11.87 % / 26.84 %
  (the search closest to the in-house one), -12 11.94 % / 26.26 % at 2.2x / 0.83x the in-house speed, -10
  (pyctcdecode's default) 12.28 % / 26.26 % at 2.9x / 1.0x; -12 is kept.
"""
import logging
import math

import kenlm
import numpy as np
from pyctcdecode.alphabet import Alphabet
from pyctcdecode.decoder import BeamSearchDecoderCTC
from pyctcdecode.language_model import AbstractLanguageModel

from .lm_backends import BeamSearch

LN_10 = math.log(10.0)
BEAM_PRUNE_LOGP = -12.0
# pyctcdecode clips log-probabilities at ln(1e-15) = -34.5; a character below this is never expanded.
TOKEN_MIN_LOGP = -33.0

# pyctcdecode logs a warning per decoder for a small vocabulary and an info line per alphabet: not for the user.
logging.getLogger("pyctcdecode").setLevel(logging.ERROR)


class FusedKenlmScorer(AbstractLanguageModel):
  """pyctcdecode's language-model interface over a ``kenlm_model.KenlmLanguageModel``, scoring a word as
  ``alpha * ln P(word | context) + beta`` (+ ``unknown_word_offset`` outside the vocabulary; module docstring)."""

  def __init__(self, language_model, alpha, beta, unknown_word_offset):
    """``language_model``: a ``KenlmLanguageModel``; the rest as in ctc_beam_search.WordScorer."""
    self.language_model = language_model
    self.alpha = alpha
    self.beta = beta
    self.unknown_word_offset = unknown_word_offset

  @property
  def order(self):
    """The n-gram order of the LM."""
    return self.language_model.order

  def get_start_state(self):
    """KenLM state of the sentence start (``<s>``)."""
    state = kenlm.State()
    self.language_model.model.BeginSentenceWrite(state)
    return state

  def score_partial_token(self, partial_token):
    """The unknown-word offset once ``partial_token`` starts no vocabulary word, else 0."""
    return 0.0 if self.language_model.is_word_prefix(partial_token) else self.unknown_word_offset

  def score(self, prev_state, word, is_last_word=False):
    """``(score of word after prev_state, state after it)``; an empty word (the utterance ends in a space) scores 0.
    ``is_last_word`` changes nothing: ``</s>`` is not scored."""
    if not word:
      return 0.0, prev_state
    state = kenlm.State()
    log10_prob = self.language_model.model.BaseScore(prev_state, self.language_model.lm_word(word), state)
    value = self.alpha * log10_prob * LN_10 + self.beta
    if word not in self.language_model.vocabulary:
      value += self.unknown_word_offset
    return value, state


def candidate_mask(log_probs, cutoff_prob, cutoff_top_n):
  """``[T, V+1]`` booleans: the characters the in-house search expands per frame (ctc_beam_search._candidates):
  the likeliest first, while the probability of those before stays below ``cutoff_prob``, at most
  ``cutoff_top_n``."""
  order = np.argsort(-log_probs, axis=1)[:, :cutoff_top_n]
  mask = np.zeros(log_probs.shape, dtype=bool)
  if cutoff_prob >= 1.0:
    keep = np.ones(order.shape, dtype=bool)
  else:
    probs = np.exp(np.take_along_axis(log_probs, order, axis=1))
    before = np.zeros(probs.shape)
    before[:, 1:] = np.cumsum(probs, axis=1)[:, :-1]
    keep = before < cutoff_prob
  np.put_along_axis(mask, order, keep, axis=1)
  return mask


class PyctcdecodeSearch(BeamSearch):
  """``search(log_probs, alpha, beta) -> [(text, score), ...]`` best first, as ctc_beam_search.ctc_beam_search
  returns them, by pyctcdecode; one decoder per (alpha, beta), built on first use."""

  def __init__(self, labels, language_model=None, beam_width=128, cutoff_prob=1.0, cutoff_top_n=40,
               unknown_word_offset=-10.0, beam_prune_logp=BEAM_PRUNE_LOGP):
    """``labels``: the V characters (blank is column V); ``language_model``: a ``KenlmLanguageModel`` or None
    (plain beam search); ``beam_prune_logp``: beams this far below the best are dropped (module docstring); the
    rest as scripts/decode.py's flags."""
    super().__init__(labels, language_model, beam_width, cutoff_prob, cutoff_top_n, unknown_word_offset)
    self.alphabet = Alphabet(list(labels) + [""], False)
    self.beam_prune_logp = beam_prune_logp
    self._decoders = {}

  def _decoder(self, alpha, beta):
    key = (alpha, beta) if self.language_model is not None else None
    decoder = self._decoders.get(key)
    if decoder is None:
      scorer = None
      if self.language_model is not None:
        scorer = FusedKenlmScorer(self.language_model, alpha, beta, self.unknown_word_offset)
      decoder = self._decoders[key] = BeamSearchDecoderCTC(self.alphabet, scorer)
    return decoder

  def __call__(self, log_probs, alpha=0.0, beta=0.0):
    """Beams of one utterance's ``[T, V+1]`` natural-log probabilities, best first, at most ``beam_width``."""
    log_probs = np.asarray(log_probs, dtype=np.float64)
    if log_probs.ndim != 2 or log_probs.shape[1] != len(self.alphabet.labels):
      raise ValueError("expected log-probabilities of shape [T, {}] (the {} labels plus blank), got {}".format(
          len(self.alphabet.labels), len(self.alphabet.labels) - 1, list(log_probs.shape)))
    if not len(log_probs):
      return [("", 0.0)]
    masked = np.where(candidate_mask(log_probs, self.cutoff_prob, self.cutoff_top_n), log_probs, -np.inf)
    peak = masked.max(axis=1, keepdims=True)
    kept_mass = float(np.sum(np.log(np.exp(masked - peak).sum(axis=1)) + peak[:, 0]))
    beams = self._decoder(alpha, beta).decode_beams(
        masked, beam_width=self.beam_width, beam_prune_logp=self.beam_prune_logp, token_min_logp=TOKEN_MIN_LOGP,
        prune_history=True)
    return [(text, score + kept_mass) for text, _, _, _, score in beams]

"""CTC prefix beam search against brute force: with a beam wide enough to keep every prefix, the score of
every labelling must equal the sum over all its frame alignments (plus the LM terms), enumerated here."""
import itertools
import math

import numpy as np
import pytest

from open_seq2seq.decoders.ctc_beam_search import WordScorer, ctc_beam_search, log_softmax
from open_seq2seq.decoders.lm import ArpaLanguageModel, estimate_kneser_ney


def collapse(path, labels, blank):
  out, previous = [], None
  for index in path:
    if index != previous and index != blank:
      out.append(labels[index])
    previous = index
  return "".join(out)


def brute_force(log_probs, labels):
  """ln P(labelling) for every labelling with non-zero probability, by enumerating alignments."""
  blank = len(labels)
  totals = {}
  for path in itertools.product(range(len(labels) + 1), repeat=len(log_probs)):
    labelling = collapse(path, labels, blank)
    totals[labelling] = np.logaddexp(totals.get(labelling, -np.inf),
                                     sum(log_probs[t, c] for t, c in enumerate(path)))
  return totals


def random_log_probs(seed, frames, classes):
  return log_softmax(np.random.RandomState(seed).randn(frames, classes) * 2.0)


def test_log_softmax():
  logits = np.array([[1.0, 2.0, 3.0], [1000.0, 0.0, -1000.0]])
  expected = np.log(np.exp(logits[0]) / np.exp(logits[0]).sum())
  np.testing.assert_allclose(log_softmax(logits)[0], expected)
  np.testing.assert_allclose(np.exp(log_softmax(logits)).sum(axis=1), [1.0, 1.0])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_prefix_probabilities_equal_the_sum_over_alignments(seed):
  labels = "abc"
  log_probs = random_log_probs(seed, 5, 4)
  exact = brute_force(log_probs, labels)
  results = ctc_beam_search(log_probs, labels, beam_width=10000)
  assert {text for text, _ in results} == set(exact)
  for text, score in results:
    assert score == pytest.approx(exact[text], abs=1e-9), text
  assert results[0][0] == max(exact, key=exact.get)


def test_blank_in_another_column():
  labels = "ab"
  log_probs = random_log_probs(3, 4, 3)
  reordered = log_probs[:, [2, 0, 1]]  # blank first, as some toolkits order it
  exact = brute_force(log_probs, labels)
  results = dict(ctc_beam_search(reordered, labels, beam_width=1000, blank=0))
  for text, score in results.items():
    assert score == pytest.approx(exact[text], abs=1e-9)


def lm_terms(text, lm, alpha, beta, offset):
  """The LM part of the score, from the definition: each word of the labelling, in order after <s>."""
  words, total = text.split(), 0.0
  for position, word in enumerate(words):
    context = (("<s>",) + tuple(words[:position]))[-(lm.order - 1):]
    total += alpha * lm.log10_prob(word, context) * math.log(10) + beta
    if word not in lm.vocabulary:
      total += offset
  return total


@pytest.mark.parametrize("alpha, beta, offset", [(0.8, 0.5, -3.0), (2.0, -1.0, 0.0), (0.3, 2.0, -10.0)])
def test_language_model_fusion_matches_the_definition(alpha, beta, offset):
  labels = "ab "
  lm = ArpaLanguageModel(estimate_kneser_ney([["a", "b"], ["b", "a", "a"], ["ab"], ["b"]], order=2))
  scorer = WordScorer(lm, alpha, beta, unknown_word_offset=offset)
  log_probs = random_log_probs(7, 5, 4)
  exact = brute_force(log_probs, labels)
  expected = {}
  for labelling, acoustic in exact.items():
    text = " ".join(labelling.split())
    expected.setdefault(text, []).append(acoustic + lm_terms(labelling, lm, alpha, beta, offset))
  results = ctc_beam_search(log_probs, labels, beam_width=100000, scorer=scorer)
  found = {}
  for text, score in results:
    found.setdefault(text, []).append(score)
  assert set(found) == set(expected)
  for text in expected:
    np.testing.assert_allclose(sorted(found[text]), sorted(expected[text]), atol=1e-9, err_msg=text)
  best_expected = max(expected, key=lambda text: max(expected[text]))
  assert results[0][0] == best_expected


def test_language_model_corrects_an_acoustically_likelier_misspelling():
  labels = " abcdefghijklmnopqrstuvwxyz'"
  blank = len(labels)
  lm = ArpaLanguageModel(estimate_kneser_ney([s.split() for s in ["the cat sat on the mat", "a cat sat",
                                                                      "the mat"]], order=3))
  frames = []
  for spoken in ["t", "h", "e", " ", "c", "a", "t", " ", "s", "a", "d?t"]:
    frame = np.full(len(labels) + 1, 1e-4)
    if spoken == "d?t":  # the acoustics lean to "sad" (OOV), the language model knows "sat"
      frame[labels.index("d")], frame[labels.index("t")] = 0.55, 0.40
    else:
      frame[labels.index(spoken)] = 0.95
    frames += [frame / frame.sum(), np.eye(len(labels) + 1)[blank] * 0.97 + 0.0001]
  log_probs = np.log(np.array(frames) / np.array(frames).sum(axis=1, keepdims=True))
  assert ctc_beam_search(log_probs, labels, beam_width=16)[0][0] == "the cat sad"
  scorer = WordScorer(lm, alpha=0.5, beta=0.0, unknown_word_offset=-10.0)
  assert ctc_beam_search(log_probs, labels, beam_width=16, scorer=scorer)[0][0] == "the cat sat"


def test_wrong_width_is_reported():
  with pytest.raises(ValueError, match=r"shape \[T, 4\] \(the 3 labels plus blank\), got \[5, 3\]"):
    ctc_beam_search(np.zeros((5, 3)), "abc")

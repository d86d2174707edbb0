"""Word error rate."""


def levenshtein(reference, hypothesis):
  """Edit distance (unit costs) between two sequences."""
  previous = list(range(len(hypothesis) + 1))
  for i, ref_item in enumerate(reference, start=1):
    current = [i] + [0] * len(hypothesis)
    for j, hyp_item in enumerate(hypothesis, start=1):
      current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_item != hyp_item))
    previous = current
  return previous[-1]


def word_errors(reference, hypothesis):
  """``(word edit distance, number of reference words)`` with whitespace tokenisation."""
  ref_words = reference.split()
  return levenshtein(ref_words, hypothesis.split()), len(ref_words)


def corpus_wer(references, hypotheses):
  """Total word edits over total reference words (not a mean of per-utterance rates)."""
  edits = words = 0
  for reference, hypothesis in zip(references, hypotheses):
    e, w = word_errors(reference, hypothesis)
    edits += e
    words += w
  return edits / words if words else 0.0

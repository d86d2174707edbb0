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


def corpus_wer(references, hypotheses, source="the references"):
  """Total word edits over total reference words (not a mean of per-utterance rates); insertions against an
  empty reference count. Raises ValueError naming ``source`` when the lists differ in length or the
  references hold no words (the rate is undefined there, not 0)."""
  if len(references) != len(hypotheses):
    raise ValueError("{}: {} references but {} hypotheses".format(source, len(references), len(hypotheses)))
  edits = words = 0
  for reference, hypothesis in zip(references, hypotheses):
    e, w = word_errors(reference, hypothesis)
    edits += e
    words += w
  if not words:
    raise ValueError("{}: the {} references hold no words (all empty or blank): WER is undefined".format(
        source, len(references)))
  return edits / words

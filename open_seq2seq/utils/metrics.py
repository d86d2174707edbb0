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


def words(text):
  """The words of a transcript: its whitespace-separated tokens (any Unicode space, tab or NBSP) that hold a
  letter or digit. A token of apostrophes, punctuation or zero-width characters alone spells no word in a
  character vocabulary; counting it would let a reference without words score WER 0."""
  return [token for token in text.split() if any(char.isalnum() for char in token)]


def word_errors(reference, hypothesis):
  """``(word edit distance, number of reference words)`` over the ``words`` of both texts."""
  ref_words = words(reference)
  return levenshtein(ref_words, words(hypothesis)), len(ref_words)


def corpus_wer(references, hypotheses, source="the references"):
  """Total word edits over total reference words (not a mean of per-utterance rates); insertions against an
  empty reference count. Raises ValueError naming ``source`` when the lists differ in length or the
  references hold no words (the rate is undefined there, not 0)."""
  if len(references) != len(hypotheses):
    raise ValueError("{}: {} references but {} hypotheses".format(source, len(references), len(hypotheses)))
  edits = num_words = 0
  for reference, hypothesis in zip(references, hypotheses):
    e, w = word_errors(reference, hypothesis)
    edits += e
    num_words += w
  if not num_words:
    raise ValueError("{}: the {} references hold no words (all empty, blank or without a letter or digit): WER "
                     "is undefined".format(source, len(references)))
  return edits / num_words

"""Word error rate: the one definition every caller (evaluation, decode.py, wer_of_predictions.py, online
inference) uses.

OpenSeq2Seq's ``Speech2Text`` sums ``levenshtein(reference.split(), hypothesis.split())`` over the utterances
and divides by the summed ``len(reference.split())``: a corpus rate, not a mean of per-utterance rates. The edit
distances are jiwer's (``jiwer.process_words``, rapidfuzz's word-level Levenshtein); the words are this
module's ``words``, because jiwer's default transform disagrees with the original on two edge cases: it splits
on the space character only (a tab, newline or NBSP between two words makes one word of them, where
``str.split`` makes two) and it refuses a reference without words (ValueError), where the original counts
every hypothesis word against it as an insertion over zero reference words.
"""
import jiwer


def words(text):
  """The words of a transcript: its whitespace-separated tokens (any Unicode space, tab or NBSP) that hold a
  letter or digit. A token of apostrophes, punctuation or zero-width characters alone spells no word in a
  character vocabulary; counting it would let a reference without words score WER 0."""
  return [token for token in text.split() if any(char.isalnum() for char in token)]


class _Words(jiwer.AbstractTransform):
  """jiwer transform: a transcript -> its ``words``."""

  def process_string(self, s):
    """The words of ``s``."""
    return words(s)


_WORDS = _Words()


def error_counts(references, hypotheses, source="the references"):
  """``(word edits, reference words)`` summed over the utterances: the word-level Levenshtein distance (unit
  costs for substitution, deletion, insertion) between each reference's and hypothesis's ``words``, and the
  number of reference words. Against a reference without words every hypothesis word is an insertion.
  Raises ValueError naming ``source`` when the lists differ in length."""
  if len(references) != len(hypotheses):
    raise ValueError("{}: {} references but {} hypotheses".format(source, len(references), len(hypotheses)))
  has_words = [bool(words(reference)) for reference in references]
  inserted = sum(len(words(hypothesis)) for hypothesis, scored in zip(hypotheses, has_words) if not scored)
  if not any(has_words):
    return inserted, 0
  output = jiwer.process_words([text for text, scored in zip(references, has_words) if scored],
                               [text for text, scored in zip(hypotheses, has_words) if scored],
                               reference_transform=_WORDS, hypothesis_transform=_WORDS)
  num_words = output.hits + output.substitutions + output.deletions
  return inserted + output.substitutions + output.deletions + output.insertions, num_words


def word_errors(reference, hypothesis):
  """``(word edit distance, number of reference words)`` of one utterance (see ``error_counts``)."""
  return error_counts([reference], [hypothesis])


def corpus_wer(references, hypotheses, source="the references"):
  """Total word edits over total reference words (``error_counts``; not a mean of per-utterance rates);
  insertions against an empty reference count. Raises ValueError naming ``source`` when the lists differ in
  length or the references hold no words (the rate is undefined there, not 0)."""
  edits, num_words = error_counts(references, hypotheses, source)
  if not num_words:
    raise ValueError("{}: the {} references hold no words (all empty, blank or without a letter or digit): WER "
                     "is undefined".format(source, len(references)))
  return edits / num_words

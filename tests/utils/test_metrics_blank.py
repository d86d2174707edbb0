"""Blank references: insertions against them count, and references without any word are an error, not WER 0
(issue 14, case 5). Expected values are hand-counted edit distances."""
import pytest

from open_seq2seq.models.speech2text import Speech2Text
from open_seq2seq.utils.metrics import corpus_wer


@pytest.mark.parametrize("blank", ["", " ", "   ", "\t \n"])
def test_references_without_words_are_an_error_naming_the_source(blank):
  with pytest.raises(ValueError, match=r"dev\.csv: the 2 references hold no words"):
    corpus_wer([blank, blank], ["some words here", ""], source="dev.csv")


def test_insertions_against_a_blank_reference_count():
  # "a b" vs "a b": 0 edits over 2 words; " " vs "x y z": 3 insertions over 0 words -> 3 / 2.
  assert corpus_wer(["a b", " "], ["a b", "x y z"]) == pytest.approx(1.5)
  # one substitution ("c" -> "d") and one insertion ("e") over the 3 words of "a b c".
  assert corpus_wer(["a b c", "  "], ["a b d", "e"]) == pytest.approx(2 / 3)


def test_lists_of_different_length_are_an_error():
  with pytest.raises(ValueError, match="3 references but 2 hypotheses"):
    corpus_wer(["a", "b", "c"], ["a", "b"])


class _DataLayer:
  params = {"dataset_files": ["dev-blank.csv"]}


class _Model:
  """Just what Speech2Text.finalize_evaluation reads."""

  @staticmethod
  def get_data_layer():
    return _DataLayer()


def test_validation_without_reference_words_is_an_error_naming_the_data():
  # Per batch: (word edits, reference words, references, hypotheses); the edits are the 2 inserted words.
  results = [(2, 0, [" "], ["hello world"]), (0, 0, ["  "], [""])]
  with pytest.raises(ValueError, match=r"The references of dev-blank\.csv hold no words \(2 utterances evaluated\)"):
    Speech2Text.finalize_evaluation(_Model(), results)


def test_validation_wer_is_total_edits_over_total_words():
  # 1 edit over 4 words, then 2 insertions over 0 words: (1 + 2) / 4.
  results = [(1, 4, ["a b c d"], ["a b c x"]), (2, 0, [" "], ["y z"])]
  assert Speech2Text.finalize_evaluation(_Model(), results)["Eval WER"] == pytest.approx(0.75)

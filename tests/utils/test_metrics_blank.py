"""Blank references: insertions against them count, and references without any word are an error, not WER 0
(issue 14, case 5). Expected values are hand-counted edit distances."""
import pytest

from open_seq2seq.models.speech2text import Speech2Text
from open_seq2seq.utils.metrics import corpus_wer, word_errors, words


@pytest.mark.parametrize("blank", ["", " ", "   ", "\t \n"])
def test_references_without_words_are_an_error_naming_the_source(blank):
  with pytest.raises(ValueError, match=r"dev\.csv: the 2 references hold no words"):
    corpus_wer([blank, blank], ["some words here", ""], source="dev.csv")


def test_insertions_against_a_blank_reference_count():
  # "a b" vs "a b": 0 edits over 2 words; " " vs "x y z": 3 insertions over 0 words -> 3 / 2.
  assert corpus_wer(["a b", " "], ["a b", "x y z"]) == pytest.approx(1.5)
  # one substitution ("c" -> "d") and one insertion ("e") over the 3 words of "a b c".
  assert corpus_wer(["a b c", "  "], ["a b d", "e"]) == pytest.approx(2 / 3)


# Texts that hold no word in other ways: Unicode spaces (NBSP, ideographic, narrow NBSP, line separator), zero-width
# characters that are no space at all, and tokens of apostrophes or punctuation only.
NO_WORDS = ["\u00a0", "\u3000\u202f", "\u2028", "\u200b", "\ufeff \u200b", "'", "'' '", " - . ",
            "\t'\u00a0"]


@pytest.mark.parametrize("blank", NO_WORDS)
def test_references_without_a_letter_are_an_error_not_wer_zero(blank):
  with pytest.raises(ValueError, match=r"dev\.csv: the 2 references hold no words"):
    corpus_wer([blank, blank], [blank, blank], source="dev.csv")


@pytest.mark.parametrize("blank", NO_WORDS)
def test_insertions_against_a_reference_without_words_count(blank):
  # "a b" matched, then 2 inserted words over 0: (0 + 2) / 2; the blank hypothesis adds nothing.
  assert corpus_wer(["a b", blank], ["a b", "x y"]) == pytest.approx(1.0)
  assert word_errors(blank, blank) == (0, 0)


def test_words_split_at_any_unicode_space_and_keep_apostrophes_inside():
  assert words("it's\u00a0a\u3000test\tof don't '") == ["it's", "a", "test", "of", "don't"]
  # NBSP between two words: two reference words, one deleted.
  assert word_errors("hello\u00a0world", "hello") == (1, 2)


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

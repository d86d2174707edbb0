"""Word error rate (spec 7.2): the module (jiwer's edit counts over our words) against a Levenshtein distance
written here, on hand-made cases and edge cases; and where jiwer's default transform agrees or not."""
import jiwer
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from open_seq2seq.utils.metrics import corpus_wer, error_counts, word_errors

PAIRS = [
    ("the cat sat on the mat", "the cat sat on the mat"),
    ("the cat sat on the mat", "the cat sat on mat"),
    ("the cat sat on the mat", "a cat sat in on the the mat"),
    ("hello world", ""),
    ("hello world", "   "),
    ("one", "two three four"),
    ("  extra   spaces here  ", "extra spaces  there"),
    ("a b c d e f", "f e d c b a"),
    ("it's a test", "its a test"),
    ("repeated repeated repeated", "repeated"),
    ("x", "x x x x"),
    ("abc def ghi", "abcdef ghi"),
]
# Words split at any whitespace, as str.split (the original's tokenizer); jiwer's default splits at " " only.
OTHER_WHITESPACE = [
    ("hello\u00a0world", "hello world"),
    ("one\ttwo\nthree", "one two three"),
    ("a\u3000b c", "a b\u2028c"),
    ("\tleading and trailing\n", "leading and trailing"),
]
# References without words: the original counts every hypothesis word as an insertion; jiwer refuses them.
NO_REFERENCE_WORDS = [("", "an insertion"), ("   ", "two words"), ("", ""), ("\t\n", " ")]


def levenshtein(reference, hypothesis):
  """Edit distance (unit costs) of two word lists: the full dynamic-programming table."""
  table = [[i + j if i == 0 or j == 0 else 0 for j in range(len(hypothesis) + 1)] for i in range(len(reference) + 1)]
  for i in range(1, len(reference) + 1):
    for j in range(1, len(hypothesis) + 1):
      table[i][j] = min(table[i - 1][j] + 1, table[i][j - 1] + 1,
                        table[i - 1][j - 1] + (reference[i - 1] != hypothesis[j - 1]))
  return table[-1][-1]


def split_words(text):
  """OpenSeq2Seq's ``text.split()``, less the tokens without a letter or digit (issue 14)."""
  return [token for token in text.split() if any(char.isalnum() for char in token)]


def oracle_counts(references, hypotheses):
  edits = sum(levenshtein(split_words(r), split_words(h)) for r, h in zip(references, hypotheses))
  return edits, sum(len(split_words(r)) for r in references)


@pytest.mark.parametrize("a,b,dist", [("kitten", "sitting", 3), ("", "abc", 3), ("abc", "", 3), ("", "", 0),
                                      ("flaw", "lawn", 2), ("intention", "execution", 5), ("abc", "abc", 0)])
def test_the_oracle_on_known_distances(a, b, dist):
  assert levenshtein(list(a), list(b)) == dist
  assert levenshtein(list(b), list(a)) == dist


@pytest.mark.parametrize("ref,hyp", PAIRS + OTHER_WHITESPACE + NO_REFERENCE_WORDS)
def test_word_errors_match_the_oracle(ref, hyp):
  assert word_errors(ref, hyp) == oracle_counts([ref], [hyp])


def test_hand_counted_edge_cases():
  assert word_errors("hello world", "") == (2, 2)  # two deletions
  assert word_errors("", "an insertion") == (2, 0)  # two insertions over no reference words
  assert word_errors("hello\u00a0world", "hello world") == (0, 2)
  assert word_errors("a b c", "a x c y") == (2, 3)  # one substitution, one insertion


def test_corpus_wer_is_total_edits_over_total_words():
  cases = PAIRS + OTHER_WHITESPACE + NO_REFERENCE_WORDS
  refs, hyps = [r for r, _ in cases], [h for _, h in cases]
  edits, num_words = oracle_counts(refs, hyps)
  assert error_counts(refs, hyps) == (edits, num_words)
  assert corpus_wer(refs, hyps) == pytest.approx(edits / num_words, rel=1e-12)
  # not the mean of per-utterance rates
  rates = [levenshtein(split_words(r), split_words(h)) / len(split_words(r)) for r, h in PAIRS]
  assert abs(corpus_wer([r for r, _ in PAIRS], [h for _, h in PAIRS]) - sum(rates) / len(rates)) > 1e-3


WORD = st.sampled_from(["a", "b", "cat", "sat", "it's", "'", "-"])
SPACE = st.sampled_from([" ", "  ", "\t", "\u00a0", "\n"])
TEXT = st.lists(st.tuples(WORD, SPACE), max_size=8).map(lambda parts: "".join(w + s for w, s in parts))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(TEXT, TEXT), max_size=6))
def test_error_counts_match_the_oracle_on_random_texts(pairs):
  refs, hyps = [r for r, _ in pairs], [h for _, h in pairs]
  assert error_counts(refs, hyps) == oracle_counts(refs, hyps)


def test_jiwer_default_agrees_where_words_are_space_separated():
  refs, hyps = [r for r, _ in PAIRS], [h.strip() for _, h in PAIRS]
  assert corpus_wer(refs, hyps) == pytest.approx(jiwer.wer(refs, hyps), rel=1e-12)


def test_jiwer_default_disagrees_with_the_original_on_the_edge_cases():
  """Why the module tokenizes itself: jiwer's default keeps "hello<NBSP>world" as one word and refuses a
  reference without words."""
  assert jiwer.wer("hello\u00a0world", "hello world") == 2.0
  assert corpus_wer(["hello\u00a0world"], ["hello world"]) == 0.0
  with pytest.raises(ValueError):
    jiwer.wer(["a b", ""], ["a b", "x y"])
  assert corpus_wer(["a b", ""], ["a b", "x y"]) == pytest.approx(1.0)

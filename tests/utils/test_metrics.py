"""Word error rate (spec 7.2) against jiwer."""
import jiwer
import pytest
import tensorflow as tf

from open_seq2seq.utils.metrics import corpus_wer, levenshtein, word_errors

tf.compat.v1.disable_eager_execution()

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


def _jiwer_edits(ref, hyp):
  out = jiwer.process_words(ref, hyp if hyp.strip() else "")
  return out.substitutions + out.deletions + out.insertions


@pytest.mark.parametrize("ref,hyp", PAIRS)
def test_word_errors_match_jiwer(ref, hyp):
  edits, words = word_errors(ref, hyp)
  assert words == len(ref.split())
  if hyp.strip():
    assert edits == _jiwer_edits(ref, hyp)
  else:
    assert edits == len(ref.split())  # all deletions
  assert edits / words == pytest.approx(jiwer.wer(ref, hyp.strip()))


def test_corpus_wer_matches_jiwer():
  refs = [r for r, _ in PAIRS]
  hyps = [h for _, h in PAIRS]
  expected = jiwer.wer(refs, [h if h.strip() else "" for h in hyps])
  assert corpus_wer(refs, hyps) == pytest.approx(expected, rel=1e-12)
  # corpus WER is total edits / total words, not the mean of per-utterance rates
  mean_rate = sum(jiwer.wer(r, h.strip()) for r, h in PAIRS) / len(PAIRS)
  assert abs(corpus_wer(refs, hyps) - mean_rate) > 1e-3


def test_corpus_wer_subsets_match_jiwer():
  for start in range(0, len(PAIRS), 3):
    chunk = PAIRS[start:start + 4]
    refs, hyps = [r for r, _ in chunk], [h for _, h in chunk]
    assert corpus_wer(refs, hyps) == pytest.approx(jiwer.wer(refs, [h.strip() for h in hyps]), rel=1e-12)


@pytest.mark.parametrize("a,b,dist", [("kitten", "sitting", 3), ("", "abc", 3), ("abc", "", 3), ("", "", 0),
                                      ("flaw", "lawn", 2), ("intention", "execution", 5), ("abc", "abc", 0)])
def test_levenshtein_known_values(a, b, dist):
  assert levenshtein(list(a), list(b)) == dist
  assert levenshtein(list(b), list(a)) == dist


def test_levenshtein_on_word_lists_matches_jiwer():
  for ref, hyp in PAIRS:
    if hyp.strip():
      assert levenshtein(ref.split(), hyp.split()) == _jiwer_edits(ref, hyp)

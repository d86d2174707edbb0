"""Interpolated Kneser-Ney estimation written as ARPA and read back: a bigram model worked out by hand,
normalisation of every conditional distribution, and clear errors on malformed ARPA files."""
import io
import math

import pytest

from open_seq2seq.decoders.lm import ArpaLanguageModel, estimate_kneser_ney, write_arpa
from open_seq2seq.decoders.lm.arpa_model import ArpaFormatError, read_arpa


def round_trip(model):
  text = io.StringIO()
  write_arpa(model, text)
  return ArpaLanguageModel(read_arpa(io.StringIO(text.getvalue()).readlines(), "test.arpa"))


def test_bigram_by_hand():
  # Sentences "a b" and "a". Continuation counts: a 1 (after <s>), b 1 (after a), </s> 2 (after a, b); total 4,
  # one-count types 2, two-count types 1 -> D1 = 2 / (2 + 2*1) = 0.5; 3 seen types over a vocabulary of 4
  # (a, b, </s>, <unk>) leave 0.5 * 3 / 4 / 4 = 0.09375 for each word. Bigram counts <s> a: 2, a b: 1,
  # b </s>: 1, a </s>: 1 -> D2 = 3 / (3 + 2) = 0.6; after "a": total 2, 2 types, back-off 0.6 * 2 / 2.
  lm = round_trip(estimate_kneser_ney([["a", "b"], ["a"]], order=2))
  expected = {
      ("a", ()): 0.5 / 4 + 0.09375,
      ("</s>", ()): 1.5 / 4 + 0.09375,
      ("<unk>", ()): 0.09375,
      ("zebra", ()): 0.09375,  # out of vocabulary: scored as <unk>
      ("b", ("a",)): 0.4 / 2 + 0.6 * 0.21875,
      ("</s>", ("a",)): 0.4 / 2 + 0.6 * 0.46875,
      ("a", ("a",)): 0.6 * 0.21875,  # unseen bigram: back-off weight times the unigram
      ("a", ("<s>",)): 1.4 / 2 + 0.3 * 0.21875,
      ("b", ("b",)): 0.6 * 0.21875,  # back-off of "b" = 0.6 * 1 / 1
  }
  for (word, context), probability in expected.items():
    assert 10 ** lm.log10_prob(word, context) == pytest.approx(probability, abs=1e-6), (word, context)


def test_lexicon_words_share_the_uniform_mass():
  # Same text as above plus two lexicon words ("b" is already in the text): the vocabulary grows to
  # a, b, c, d, </s>, <unk> (6), so each word's uniform share is 0.5 * 3 / 4 / 6 = 0.0625, the lexicon-only
  # words get exactly that, and the distribution still sums to one.
  lm = round_trip(estimate_kneser_ney([["a", "b"], ["a"]], order=2, extra_vocabulary=["c", "b", "d"]))
  expected = {"a": 0.5 / 4 + 0.0625, "b": 0.5 / 4 + 0.0625, "c": 0.0625, "d": 0.0625, "</s>": 1.5 / 4 + 0.0625,
              "<unk>": 0.0625}
  for word, probability in expected.items():
    assert 10 ** lm.log10_prob(word, ()) == pytest.approx(probability, abs=1e-6), word
  assert 10 ** lm.log10_prob("c", ("a",)) == pytest.approx(0.6 * 0.0625, abs=1e-6)
  for context in [(), ("a",), ("<s>",), ("c",)]:
    assert sum(10 ** lm.log10_prob(w, context) for w in expected) == pytest.approx(1.0, abs=1e-5), context


SENTENCES = [s.split() for s in ["the cat sat on the mat", "the dog sat", "a cat and a dog", "on the mat sat a cat",
                                 "the the cat", "dog"]]


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_every_conditional_distribution_sums_to_one(order):
  lm = round_trip(estimate_kneser_ney(SENTENCES, order=order))
  predicted = sorted(lm.vocabulary - {"<s>"})
  contexts = [(), ("<s>",), ("the",), ("<s>", "the"), ("the", "cat"), ("cat", "sat", "on"), ("zebra",),
              ("sat", "zebra"), ("a", "dog")]
  for context in contexts:
    total = sum(10 ** lm.log10_prob(word, context) for word in predicted)
    assert total == pytest.approx(1.0, abs=1e-5), context


def test_seen_continuations_beat_unseen_ones():
  lm = round_trip(estimate_kneser_ney(SENTENCES, order=3))
  assert lm.log10_prob("mat", ("on", "the")) > lm.log10_prob("dog", ("on", "the"))
  assert math.isclose(lm.log10_prob("zebra", ("the",)), lm.log10_prob("<unk>", ("the",)))


def test_gzip_file_round_trip(tmp_path):
  import gzip
  model = estimate_kneser_ney(SENTENCES, order=2)
  path = str(tmp_path / "lm.arpa.gz")
  with gzip.open(path, "wt", encoding="utf-8") as handle:
    write_arpa(model, handle)
  lm = ArpaLanguageModel.from_file(path)
  assert lm.order == 2 and 10 ** lm.log10_prob("cat", ("the",)) > 0.2


@pytest.mark.parametrize("text, message", [
    ("\\data\\\nngram 1=2\n\n\\1-grams:\n-1.0\ta\n\\end\\\n", "announces 2 1-grams, the file has 1"),
    ("\\data\\\nngram 1=1\n\n\\1-grams:\n-1.0\ta\n", "test.arpa:5: the file ends inside the \\1-grams: section"),
    ("\\data\\\nngram 1=1\n\n\\1-grams:\nminus\ta\n\\end\\\n", "test.arpa:5: expected numbers"),
    ("\\data\\\nngram 1=1\n\n\\2-grams:\n-1.0\ta b\n\\end\\\n", "not announced"),
    ("\\data\\\nngram 1=1\n\n\\1-grams:\n-1.0\ta b c d\n\\end\\\n", "test.arpa:5: expected 'log10prob 1 words"),
    ("\\data\\\nngram 1=many\n\n\\1-grams:\n-1.0\ta\n\\end\\\n", "test.arpa:2: expected whole numbers"),
])
def test_malformed_arpa_is_reported_with_file_and_line(text, message):
  with pytest.raises(ArpaFormatError, match=message.replace("\\", "\\\\").replace("(", "\\(")):
    read_arpa(io.StringIO(text).readlines(), "test.arpa")


def test_no_words_is_an_error():
  with pytest.raises(ValueError, match="no words"):
    estimate_kneser_ney([[], []])


def test_arpa_file_that_is_not_utf8(tmp_path):
  path = tmp_path / "latin1.arpa"
  path.write_bytes(b"\\data\\\nngram 1=1\n\n\\1-grams:\n-1.0\tcaf\xe9\n\\end\\\n")
  with pytest.raises(ValueError, match=r"latin1.arpa:\d+: not UTF-8 text"):
    ArpaLanguageModel.from_file(str(path))

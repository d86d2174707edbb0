"""The generated text of bench/lm_scale.py: its distinct n-gram counts equal an independent count of the written
file (as lmplz's ARPA header counts them), and the requested total is reached without overshooting it by more
than a sentence's n-grams."""
import collections

import numpy as np
import pytest

from bench.zipf_text import DistinctNgrams, ranked_vocabulary, synthetic_word, write_zipf_text


def independent_counts(path, order):
  """Distinct n-grams of a sentence file, padded with <s> and </s>, the 1-grams with <s>, </s> and <unk>."""
  seen = collections.defaultdict(set)
  with open(path, encoding="utf-8") as handle:
    for line in handle:
      tokens = ["<s>"] + line.split() + ["</s>"]
      for k in range(1, order + 1):
        for start in range(len(tokens) - k + 1):
          seen[k].add(tuple(tokens[start:start + k]))
  seen[1] |= {("<s>",), ("</s>",), ("<unk>",)}
  return {k: len(ngrams) for k, ngrams in seen.items()}


def test_synthetic_words_count_in_bijective_base_26():
  assert [synthetic_word(i) for i in (0, 1, 25, 26, 27, 26 + 26 * 26)] == ["a", "b", "z", "aa", "ab", "aaa"]


def test_ranked_vocabulary_puts_frequent_words_first_and_fills_with_synthetic_ones(tmp_path):
  text = tmp_path / "text.txt"
  text.write_text("The cat saw THE dog\nthe dog ran\nna\xefve a\n", encoding="utf-8")
  words = ranked_vocabulary(9, [str(text)], alphabet=set("abcdefghijklmnopqrstuvwxyz"))
  assert words[:3] == ["the", "dog", "cat"]
  assert "na\xefve" not in words
  assert len(words) == len(set(words)) == 9
  assert words[6:] == ["b", "c", "d"]  # "a" is one of the text's words


@pytest.mark.parametrize("order,target", [(3, 2000), (2, 700), (3, 150)])
def test_counts_match_an_independent_count_and_the_target(tmp_path, order, target):
  path = str(tmp_path / "text.txt")
  vocabulary = ranked_vocabulary(300)
  totals = write_zipf_text(path, target, vocabulary, order=order, min_words=2, max_words=6, seed=3)
  assert totals.per_order == independent_counts(path, order)
  total = sum(totals.per_order.values())
  # the last chunk near the target is one sentence: at most order * (max_words + 2) new n-grams
  assert target <= total <= target + order * 8
  with open(path, encoding="utf-8") as handle:
    lines = handle.read().splitlines()
  assert len(lines) == totals.sentences and sum(len(line.split()) for line in lines) == totals.words
  assert all(2 <= len(line.split()) <= 6 and line == line.strip() for line in lines)


def test_the_likeliest_word_is_the_first_one(tmp_path):
  path = str(tmp_path / "text.txt")
  write_zipf_text(path, 3000, ["alpha", "beta", "gamma", "delta"] + ranked_vocabulary(50)[4:], seed=1)
  with open(path, encoding="utf-8") as handle:
    counts = collections.Counter(handle.read().split())
  assert counts.most_common(1)[0][0] == "alpha"


def test_distinct_ngrams_refuses_keys_wider_than_63_bits():
  DistinctNgrams(3, 2 ** 20)
  with pytest.raises(ValueError, match="63-bit"):
    DistinctNgrams(4, 2 ** 20)


def test_distinct_ngrams_never_crosses_a_sentence():
  counter = DistinctNgrams(3, 10)
  begin, end = 0, 1
  counter.add(np.array([begin, 2, end, begin, 3, 4, end]))
  # 1-grams: 2, 3, 4 + <s> </s> <unk>; 2-grams: <s>2 2</s> <s>3 34 4</s>; 3-grams: <s>2</s> <s>34 34</s>
  assert counter.counts() == {1: 6, 2: 5, 3: 3}

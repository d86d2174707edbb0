"""The pyctcdecode backend (decoders/pyctcdecode_search.py, lm/kenlm_model.py) on a hand-written bigram ARPA and
hand-built frames whose two readings have known CTC probabilities: the transcript and its score against the
fusion formula computed here by hand (alpha on the natural log, beta per word, the unknown-word offset unscaled),
the same words and scores from the in-house backend, from an upper-case, mixed-case, gzip and KenLM-binary copy of
the LM, and one-line errors naming a missing or unreadable file."""
import gzip
import math
import os
import pickle
import shutil
import subprocess
import sys

import kenlm
import numpy as np
import pytest

from open_seq2seq.decoders import ctc_beam_search
from open_seq2seq.decoders.lm.kenlm_model import binary_vocabulary, load_kenlm_model
from open_seq2seq.decoders.lm_backends import load_lm, make_beam_search
from open_seq2seq.decoders.pyctcdecode_search import candidate_mask

LABELS = " abcdefghijklmnopqrstuvwxyz'"
LN_10 = math.log(10.0)
# log10 probabilities of the bigram model below; <s> and "the" back off with log10 0.5.
LOG10 = {("<s>", "the"): -0.09691, ("the", "cat"): -0.30103, ("the", "hat"): -1.30103, "<unk>": -1.0,
         "back-off the": -0.30103}
ARPA = """\\data\\
ngram 1=6
ngram 2=4

\\1-grams:
-1.0\t<unk>\t0
-99\t<s>\t-0.30103
-1.0\t</s>\t0
-0.5\tthe\t-0.30103
-1.0\tcat\t0
-1.0\that\t0

\\2-grams:
-0.09691\t<s> the
-0.30103\tthe cat
-1.30103\tthe hat
-0.5\tcat </s>

\\end\\
"""
# The acoustics: "the ?at" with the ? frame 'h' (0.6) or 'c' (0.4), or 'x' (0.6) against 'c' (0.4); every other
# frame is one character or the blank with probability 1, so each transcript has exactly one alignment.
P_LIKELIER, P_TRUTH = 0.6, 0.4


def log_probs_for(likelier, truth="c"):
  """``[T, 29]`` log-probabilities of "the ?at", ? = ``likelier`` (0.6) or ``truth`` (0.4)."""
  rows = []
  for item in ["t", "h", "e", " ", None, "a", "t"]:
    row = np.full(len(LABELS) + 1, -1000.0)
    if item is None:
      row[LABELS.index(likelier)], row[LABELS.index(truth)] = math.log(P_LIKELIER), math.log(P_TRUTH)
    else:
      row[LABELS.index(item)] = 0.0
    blank = np.full(len(LABELS) + 1, -1000.0)
    blank[-1] = 0.0
    rows += [row, blank]
  return ctc_beam_search.log_softmax(np.array(rows))


def best_scores(beams):
  """``{text: best score}`` of a beam list (the in-house search may list a text twice, with a trailing space)."""
  scores = {}
  for text, score in beams:
    scores[text] = max(score, scores.get(text, -math.inf))
  return scores


def hand_score(ctc_prob, lm_log10_probs, words, alpha, beta, offset=0.0):
  """ln P_ctc + alpha ln P_lm + beta * words + offset, the fusion both backends promise."""
  return math.log(ctc_prob) + alpha * LN_10 * sum(lm_log10_probs) + beta * words + offset


@pytest.fixture()
def arpa(tmp_path):
  path = tmp_path / "lm.arpa"
  path.write_text(ARPA)
  return str(path)


def search_with(backend, lm_path, beam_width=16, offset=-10.0):
  language_model, _ = load_lm(backend, lm_path, LABELS)
  return make_beam_search(backend, LABELS, language_model, beam_width=beam_width, cutoff_prob=1.0, cutoff_top_n=40,
                          unknown_word_offset=offset)


@pytest.mark.parametrize("backend", ["pyctcdecode", "in_house"])
def test_alpha_weighs_the_natural_log_of_the_lm(arpa, backend):
  # "hat" is 0.6/0.4 likelier acoustically, "cat" 10 times likelier after "the": the LM wins from
  # alpha = ln 1.5 / ln 10 = 0.176 on (with alpha on log10 P, as in Baidu's decoder, only from 0.405).
  search = search_with(backend, arpa)
  log_probs = log_probs_for("h")
  for alpha, expected in [(0.0, "the hat"), (0.17, "the hat"), (0.18, "the cat"), (0.3, "the cat")]:
    assert search(log_probs, alpha, 0.0)[0][0] == expected, alpha
  beams = best_scores(search(log_probs, 0.5, 1.5))
  assert beams["the cat"] == pytest.approx(hand_score(P_TRUTH, [LOG10[("<s>", "the")], LOG10[("the", "cat")]], 2,
                                                      0.5, 1.5), abs=1e-5)
  assert beams["the hat"] == pytest.approx(hand_score(P_LIKELIER, [LOG10[("<s>", "the")], LOG10[("the", "hat")]], 2,
                                                      0.5, 1.5), abs=1e-5)


@pytest.mark.parametrize("backend", ["pyctcdecode", "in_house"])
def test_unknown_word_offset_is_charged_once_unscaled_by_alpha(arpa, backend):
  # "thx" is no word of the LM: it scores P(<unk> | the) = back-off(the) * P(<unk>) plus the offset, which
  # alpha does not scale (at alpha 0 the offset alone decides: 0.6/0.4 = e^0.405).
  log_probs = log_probs_for("x")
  assert search_with(backend, arpa, offset=0.0)(log_probs, 0.0, 0.0)[0][0] == "the xat"
  search = search_with(backend, arpa, offset=-0.5)
  assert search(log_probs, 0.0, 0.0)[0][0] == "the cat"
  beams = best_scores(search(log_probs, 0.1, 0.0))
  unknown = [LOG10[("<s>", "the")], LOG10["back-off the"] + LOG10["<unk>"]]
  assert beams["the xat"] == pytest.approx(hand_score(P_LIKELIER, unknown, 2, 0.1, 0.0, -0.5), abs=1e-5)


def test_both_backends_give_the_same_beams(arpa):
  log_probs = log_probs_for("h")
  for alpha, beta in [(0.0, 0.0), (0.2, 0.0), (0.7, 1.0), (1.5, -1.0)]:
    in_house = search_with("in_house", arpa)(log_probs, alpha, beta)
    pyctc = search_with("pyctcdecode", arpa)(log_probs, alpha, beta)
    finite = [(text, score) for text, score in in_house if score > -1e3]
    assert [text for text, _ in pyctc[:2]] == [text for text, _ in finite[:2]]
    np.testing.assert_allclose([s for _, s in pyctc[:2]], [s for _, s in finite[:2]], atol=1e-5)


def recased(text, recase):
  """The ARPA ``text`` with ``recase`` applied to its words; <s> and </s> stay, as KenLM requires them."""
  lines = []
  for line in text.split("\n"):
    fields = line.split("\t")
    if len(fields) > 1:
      fields[1] = " ".join(w if w in ("<s>", "</s>") else recase(w) for w in fields[1].split(" "))
    lines.append("\t".join(fields))
  return "\n".join(lines)


def test_upper_case_and_gzip_lms_score_the_lower_case_words(arpa, tmp_path):
  upper = tmp_path / "upper.arpa"
  upper.write_text(recased(ARPA, str.upper))
  assert "\tTHE CAT" in upper.read_text() and "<UNK>" in upper.read_text()
  packed = tmp_path / "upper.arpa.gz"
  packed.write_bytes(gzip.compress(upper.read_bytes()))
  log_probs = log_probs_for("h")
  expected = search_with("pyctcdecode", arpa)(log_probs, 0.5, 1.0)
  for path in (upper, packed):
    assert search_with("pyctcdecode", str(path))(log_probs, 0.5, 1.0) == expected
  _, notes = load_kenlm_model(str(upper), LABELS)
  assert notes == ["{}: 3 words scored in the LM's spelling (the vocabulary is lower-case)".format(upper)]


def test_a_mixed_case_lm_keeps_the_likeliest_spelling(tmp_path):
  # "The" (title case, likelier) and "THE" both fold to "the"; the decoder's "the" is scored as "The".
  mixed = ARPA.replace("ngram 1=6", "ngram 1=7").replace("-0.5\tthe\t-0.30103", "-0.5\tThe\t-0.30103\n-2.0\tTHE\t0")
  mixed = mixed.replace("<s> the", "<s> The").replace("the cat", "The cat").replace("the hat", "The hat")
  path = tmp_path / "mixed.arpa"
  path.write_text(mixed)
  lm, notes = load_kenlm_model(str(path), LABELS)
  assert lm.lm_word("the") == "The" and lm.vocabulary == {"the", "cat", "hat"}
  assert "1 spellings differing only in case left to the likeliest" in notes[0]
  assert search_with("pyctcdecode", str(path))(log_probs_for("h"), 0.5, 1.0)[0][0] == "the cat"


def find_build_binary():
  """KenLM's build_binary on PATH, beside this Python or in the bin folder of the environment kenlm is installed in
  (the shared one scripts/setup_env.sh layers this clone's over), or None."""
  environment = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(kenlm.__file__))))
  for folder in (os.path.dirname(sys.executable), os.path.join(environment, "bin")):
    candidate = os.path.join(folder, "build_binary")
    if os.access(candidate, os.X_OK):
      return candidate
  return shutil.which("build_binary")


@pytest.mark.skipif(find_build_binary() is None, reason="KenLM's build_binary is neither on PATH nor in the venv's "
                    "bin (the pip kenlm package ships only the Python module)")
@pytest.mark.parametrize("kind", ["probing", "trie"])
def test_a_kenlm_binary_decodes_like_its_arpa(arpa, tmp_path, kind):
  upper = tmp_path / "upper.arpa"
  upper.write_text(recased(ARPA, str.upper))
  log_probs = log_probs_for("h")
  expected = search_with("pyctcdecode", arpa)(log_probs, 0.5, 1.0)
  for source in (arpa, str(upper)):
    binary = str(tmp_path / (os.path.basename(source) + "." + kind))
    subprocess.run([find_build_binary(), kind, source, binary], check=True, capture_output=True)
    words = ["the", "cat", "hat"] if source == arpa else ["THE", "CAT", "HAT"]
    assert sorted(binary_vocabulary(binary)) == sorted(["<unk>", "<s>", "</s>"] + words)  # KenLM writes <UNK> as <unk>
    assert search_with("pyctcdecode", binary)(log_probs, 0.5, 1.0) == expected
  no_unknown = tmp_path / "no_unknown.arpa"
  no_unknown.write_text(ARPA.replace("ngram 1=6", "ngram 1=5").replace("-1.0\t<unk>\t0\n", ""))
  binary = str(tmp_path / ("no_unknown." + kind))
  subprocess.run([find_build_binary(), kind, str(no_unknown), binary], check=True, capture_output=True)
  assert sorted(binary_vocabulary(binary)) == ["</s>", "<s>", "<unk>", "cat", "hat", "the"]  # KenLM added <unk>
  stripped = str(tmp_path / "stripped.binary")
  subprocess.run([find_build_binary(), "-v", kind, arpa, stripped], check=True, capture_output=True)
  with pytest.raises(ValueError, match="stripped.binary: a KenLM binary built without its vocabulary strings"):
    load_kenlm_model(stripped, LABELS)


def test_missing_and_unreadable_lms_are_named(tmp_path):
  with pytest.raises(OSError, match="missing.arpa"):
    load_lm("pyctcdecode", str(tmp_path / "missing.arpa"), LABELS)
  cut = tmp_path / "cut.arpa"
  cut.write_text(ARPA[:ARPA.index("-0.30103\tthe cat")])
  with pytest.raises(ValueError) as error:
    load_lm("pyctcdecode", str(cut), LABELS)
  assert str(error.value).startswith("{}: KenLM cannot read it".format(cut)) and "\n" not in str(error.value)
  markers = tmp_path / "markers.arpa"
  markers.write_text(ARPA.replace("<s>", "<S>"))
  with pytest.raises(ValueError, match="KenLM wants the sentence markers spelled <s> and </s>"):
    load_lm("pyctcdecode", str(markers), LABELS)


def test_the_model_pickles_by_path(arpa):
  lm, _ = load_kenlm_model(arpa, LABELS)
  copy = pickle.loads(pickle.dumps(lm))
  assert copy.model is not lm.model and copy.vocabulary == lm.vocabulary
  search = make_beam_search("pyctcdecode", LABELS, copy, beam_width=16)
  assert search(log_probs_for("h"), 0.5, 0.0)[0][0] == "the cat"


@pytest.mark.parametrize("cutoff_prob, cutoff_top_n", [(1.0, 40), (0.9999, 40), (0.9, 40), (0.99, 3), (0.5, 1)])
def test_the_characters_expanded_are_the_in_house_ones(cutoff_prob, cutoff_top_n):
  log_probs = ctc_beam_search.log_softmax(np.random.RandomState(0).randn(50, len(LABELS) + 1) * 3.0)
  mask = candidate_mask(log_probs, cutoff_prob, cutoff_top_n)
  for frame, row in zip(log_probs, mask):
    expected = ctc_beam_search._candidates(frame, len(LABELS), cutoff_prob, cutoff_top_n)
    assert sorted(np.flatnonzero(row).tolist()) == sorted(expected)

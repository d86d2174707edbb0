"""Every kind of malformed ARPA file is refused with an error naming the file and the line (truncated
anywhere, no \\data\\, wrong counts, non-numeric or impossible numbers, n-grams of the wrong order, no \\end\\,
empty, binary, KenLM binary, damaged gzip); gzip is read whatever the file's name; the LM's words are folded
to the vocabulary's case, and an LM the vocabulary can hardly spell is refused."""
import gzip
import io
import random

import pytest

from open_seq2seq.decoders.lm import estimate_kneser_ney, load_language_model, write_arpa
from open_seq2seq.decoders.lm.alphabet import fit_to_labels
from open_seq2seq.decoders.lm.arpa_model import read_arpa

LABELS = list(" abcdefghijklmnopqrstuvwxyz'")


def good_arpa_text(sentences=400, seed=0):
  """A trigram ARPA (about 60 kB for the default size) of made-up sentences over 150 made-up words."""
  rng = random.Random(seed)
  words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz'") for _ in range(rng.randint(1, 8))) for _ in range(150)]
  text = [[rng.choice(words) for _ in range(rng.randint(2, 9))] for _ in range(sentences)]
  handle = io.StringIO()
  write_arpa(estimate_kneser_ney(text, order=3), handle)
  return handle.getvalue()


@pytest.fixture(scope="module")
def good():
  return good_arpa_text()


def line_of(text, prefix):
  """1-based number of the first line of ``text`` that starts with ``prefix``."""
  return next(i for i, line in enumerate(text.split("\n"), start=1) if line.startswith(prefix))


def refused(tmp_path, content, name="lm.arpa"):
  """The message of the ValueError that loading ``content`` (str or bytes) as ``name`` raises."""
  path = tmp_path / name
  if isinstance(content, str):
    path.write_text(content, encoding="utf-8")
  else:
    path.write_bytes(content)
  with pytest.raises(ValueError) as error:
    load_language_model(str(path), LABELS)
  assert str(path) in str(error.value)
  return str(error.value).replace(str(path), "lm.arpa")


def test_the_good_file_loads(tmp_path, good):
  (tmp_path / "lm.arpa").write_text(good)
  lm, notes = load_language_model(str(tmp_path / "lm.arpa"), LABELS)
  assert lm.order == 3 and notes == []


@pytest.mark.parametrize("cut", [20000, 31, 45, 70, 1500, 7777, 33333, -9, -6, -2])
def test_truncated_anywhere_names_the_last_line(tmp_path, good, cut):
  # Wherever the cut falls (inside a number, a word, a header, \end\ or between lines), the file is incomplete
  # and the error points at its last non-blank line.
  text = good[:cut]
  last = max(i for i, line in enumerate(text.split("\n"), start=1) if line.strip())
  message = refused(tmp_path, text)
  assert message.startswith("lm.arpa:{}: ".format(last)) and "truncated?" in message


def test_missing_data_header(tmp_path, good):
  text = good.replace("\\data\\\n", "", 1)
  assert refused(tmp_path, text) == "lm.arpa:{}: section \\1-grams: before the \\data\\ header (not an ARPA " \
      "file?)".format(line_of(text, "\\1-grams:"))
  assert refused(tmp_path, "just some text\nand more\n") == "lm.arpa: no \\data\\ header in 2 lines (not an " \
      "ARPA file?)"


def test_counts_that_do_not_match_the_sections(tmp_path, good):
  announced = int(good.split("ngram 2=")[1].split("\n")[0])
  text = good.replace("ngram 2={}".format(announced), "ngram 2={}".format(announced + 1))
  assert refused(tmp_path, text) == "lm.arpa:{}: \\data\\ announces {} 2-grams, the file has {}".format(
      line_of(text, "ngram 2="), announced + 1, announced)
  lines = good.split("\n")
  del lines[line_of(good, "\\3-grams:")]  # the first trigram
  assert "announces {} 3-grams".format(int(good.split("ngram 3=")[1].split("\n")[0])) in refused(
      tmp_path, "\n".join(lines))


@pytest.mark.parametrize("replace_field, value", [(0, "abc"), (0, "nan"), (0, "inf"), (0, "0.5"), (-1, "x"),
                                                  (-1, "-inf"), (0, "1e400")])
def test_impossible_numbers_name_their_line(tmp_path, good, replace_field, value):
  lines = good.split("\n")
  number = line_of(good, "\\2-grams:") + 3
  fields = lines[number - 1].split("\t")
  fields[replace_field] = value
  lines[number - 1] = "\t".join(fields)
  assert refused(tmp_path, "\n".join(lines)).startswith("lm.arpa:{}: expected ".format(number))


@pytest.mark.parametrize("section, inserted", [("\\1-grams:", "-1.0\tthe cat"), ("\\2-grams:", "-1.0\ta b c d"),
                                               ("\\2-grams:", "-1.0\ta"), ("\\3-grams:", "-1.0\ta b"),
                                               ("\\3-grams:", "-1.0\ta b c d e"), ("\\2-grams:", "-1.0")])
def test_ngram_of_the_wrong_order(tmp_path, good, section, inserted):
  lines = good.split("\n")
  number = line_of(good, section) + 2
  lines.insert(number - 1, inserted)
  assert refused(tmp_path, "\n".join(lines)).startswith("lm.arpa:{}: expected ".format(number))


def test_structure_errors(tmp_path, good):
  first_bigram = good.split("\\2-grams:\n")[1].split("\n")[0]
  number = line_of(good, "\\2-grams:") + 2
  repeated = good.replace(first_bigram, first_bigram + "\n" + first_bigram, 1)
  assert refused(tmp_path, repeated).startswith("lm.arpa:{}: the 2-gram ".format(number))
  unknown_word = good.replace(first_bigram, first_bigram.rsplit("\t", 2)[0] + "\tnosuchword\t0.0", 1)
  assert refused(tmp_path, unknown_word).startswith("lm.arpa:{}: the 2-gram ".format(line_of(good, "\\2-grams:") + 1))
  swapped = good.replace("\\2-grams:", "\\X-grams:").replace("\\3-grams:", "\\2-grams:").replace("\\X-grams:",
                                                                                                  "\\3-grams:")
  assert refused(tmp_path, swapped).startswith("lm.arpa:{}: section \\3-grams: where \\2-grams: should come".format(
      line_of(swapped, "\\3-grams:")))
  assert "the 2-gram count is announced twice" in refused(tmp_path, good.replace("ngram 2=", "ngram 2=1\nngram 2="))


def test_missing_end_marker(tmp_path, good):
  text = good.replace("\\end\\", "")
  last = max(i for i, line in enumerate(text.split("\n"), start=1) if line.strip())
  assert refused(tmp_path, text) == "lm.arpa:{}: the file ends inside the \\3-grams: section without the \\end\\ " \
      "marker (truncated?)".format(last)


def test_empty_binary_and_kenlm_binary_files(tmp_path):
  assert refused(tmp_path, b"") == "lm.arpa: empty file, expected an ARPA language model"
  assert refused(tmp_path, b"\n \n\t\n") == "lm.arpa: empty file, expected an ARPA language model"
  rng = random.Random(1)
  garbage = bytes(rng.randrange(256) for _ in range(5000))
  assert refused(tmp_path, garbage).startswith("lm.arpa:1: ")
  assert refused(tmp_path, b"\\data\\\n\0\0\0\n").startswith("lm.arpa:2: binary data")
  kenlm = b"mmap lm http://kheafield.com/code format version 5\n\0" + garbage
  message = refused(tmp_path, kenlm, name="lm.binary")
  assert "KenLM binary model" in message and "expected the ARPA text" in message


def test_byte_order_mark_and_windows_line_ends(tmp_path, good):
  (tmp_path / "bom.arpa").write_bytes(b"\xef\xbb\xbf" + good.replace("\n", "\r\n").encode("utf-8"))
  lm, _ = load_language_model(str(tmp_path / "bom.arpa"), LABELS)
  assert lm.vocabulary == frozenset(word for (word,) in read_arpa(good.split("\n"), "plain")[1])


@pytest.mark.parametrize("name", ["lm.arpa.gz", "lm.arpa"])
def test_gzip_is_read_whatever_the_name(tmp_path, good, name):
  (tmp_path / name).write_bytes(gzip.compress(good.encode("utf-8")))
  lm, _ = load_language_model(str(tmp_path / name), LABELS)
  plain = read_arpa(good.split("\n"), "plain")
  assert lm.order == 3 and lm.vocabulary == frozenset(word for (word,) in plain[1])
  assert refused(tmp_path, gzip.compress(good.encode("utf-8"))[:3000], name="cut.arpa.gz").startswith("lm.arpa:")
  assert "KenLM binary" in refused(tmp_path, gzip.compress(b"mmap lm http://kheafield.com/code\0\0"),
                                   name="kenlm.gz")


def upper_case_copy(text):
  """``text`` with every word, markers included, upper-cased (headers stay as the format wants them)."""
  return "\n".join(line if line.startswith(("\\", "ngram ")) else line.upper() for line in text.split("\n"))


def test_upper_case_lm_is_folded_to_the_vocabulary(good):
  lower = read_arpa(good.split("\n"), "lower.arpa")
  folded, notes = fit_to_labels(read_arpa(upper_case_copy(good).split("\n"), "upper.arpa"), LABELS, "upper.arpa")
  assert folded == lower
  assert notes == ["upper.arpa: words lower-cased to match the vocabulary"]
  unchanged, notes = fit_to_labels(lower, LABELS, "lower.arpa")
  assert unchanged is lower and notes == []


def test_spellings_that_differ_in_case_keep_the_likelier():
  ngrams = {1: {("<s>",): (-99.0, -0.2), ("The",): (-1.5, -0.1), ("THE",): (-0.7, -0.3), ("cat",): (-1.0, 0.0)}}
  folded, notes = fit_to_labels(ngrams, LABELS, "mixed.arpa")
  assert folded[1] == {("<s>",): (-99.0, -0.2), ("the",): (-0.7, -0.3), ("cat",): (-1.0, 0.0)}
  assert "1 n-grams differing only in case merged" in notes[0]


def test_words_outside_the_vocabulary(good):
  ngrams = read_arpa(good.split("\n"), "lm.arpa")
  ngrams[1].update({("café",): (-3.0, 0.0), ("r2d2",): (-3.0, 0.0)})
  _, notes = fit_to_labels(ngrams, LABELS, "lm.arpa")
  spellable = sum(1 for (w,) in ngrams[1] if w not in ("<s>", "</s>", "<unk>")) - 2
  assert notes == ["lm.arpa: 2 of {} words have characters outside the vocabulary and can never be decoded "
                   "(e.g. 'café', 'r2d2')".format(spellable + 2)]


@pytest.mark.parametrize("words", [["привет", "мир", "кот"], ["1990", "2001", "cat", "42"]])
def test_lm_the_vocabulary_cannot_spell_is_refused(words):
  ngrams = {1: {(w,): (-1.0, 0.0) for w in ["<s>", "</s>", "<unk>"] + words}}
  with pytest.raises(ValueError, match=r"^other.arpa: only \d+ of the LM's {} words can be spelled".format(
      len(words))):
    fit_to_labels(ngrams, LABELS, "other.arpa")


def test_lm_of_markers_only_is_refused():
  ngrams = {1: {(w,): (-1.0, 0.0) for w in ["<s>", "</s>", "<unk>"]}}
  with pytest.raises(ValueError, match="^markers.arpa: the LM holds no words besides <s>, </s> and <unk>$"):
    fit_to_labels(ngrams, LABELS, "markers.arpa")


def without_word(text, word):
  """``text`` without every n-gram holding ``word``, the counts under \\data\\ recomputed to match."""
  lines = [line for line in text.split("\n") if "\t" not in line or word not in line.split("\t")[1].split(" ")]
  for order in range(1, 4):
    section = "\n".join(lines).split("\\{}-grams:\n".format(order))[1].split("\n\n")[0]
    number = next(i for i, line in enumerate(lines) if line.startswith("ngram {}=".format(order)))
    lines[number] = "ngram {}={}".format(order, len(section.split("\n")))
  return "\n".join(lines)


@pytest.mark.parametrize("marker", ["<s>", "</s>"])
def test_sentence_markers_are_required(tmp_path, good, marker):
  text = without_word(good, marker)
  assert refused(tmp_path, text) == "lm.arpa:{}: the 1-grams have no {} (every ARPA model from lmplz, SRILM or " \
      "scripts/build_lm.py has <s> and </s>)".format(line_of(text, "\\1-grams:"), marker)


def test_missing_unknown_word_is_a_warning(tmp_path, good):
  (tmp_path / "lm.arpa").write_text(without_word(good, "<unk>"))
  lm, notes = load_language_model(str(tmp_path / "lm.arpa"), LABELS)
  assert notes == ["{}: no <unk> 1-gram (an LM built without -unk); words outside the LM get log10 probability "
                   "-10".format(tmp_path / "lm.arpa")]
  assert lm.log10_prob("zzzzzzzz") == -10.0


def test_five_gram_model_is_read_in_full(tmp_path):
  rng = random.Random(5)
  text = [[rng.choice(["a", "cat", "sat", "on", "the", "mat"]) for _ in range(rng.randint(5, 9))] for _ in range(60)]
  handle = io.StringIO()
  write_arpa(estimate_kneser_ney(text, order=5), handle)
  (tmp_path / "lm5.arpa").write_text(handle.getvalue())
  lm, _ = load_language_model(str(tmp_path / "lm5.arpa"), LABELS)
  assert lm.order == 5
  # A listed 5-gram scores exactly its own line's probability (no back-off involved).
  fields = handle.getvalue().split("\\5-grams:\n")[1].split("\n")[0].split("\t")
  words = fields[1].split(" ")
  assert lm.log10_prob(words[-1], tuple(words[:-1])) == float(fields[0])

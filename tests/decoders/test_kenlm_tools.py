"""KenLM's command-line tools as scripts/setup_env.sh builds them into .venv/bin: lmplz estimates a 3-gram ARPA
model of a tiny text, build_binary converts it, and the kenlm Python module reads the ARPA, its gzip copy and the
binary with the same scores, which the in-house ARPA reader also gives. Skipped where the tools are not built
(JASPER_SKIP_KENLM_TOOLS=1) or the kenlm module is missing."""
import gzip
import shutil
import subprocess

import pytest

from bench.lm_scale import arpa_header_counts, find_kenlm_tool
from open_seq2seq.decoders.lm.arpa_model import ArpaLanguageModel
from tests.bench.test_zipf_text import independent_counts

kenlm = pytest.importorskip("kenlm", reason="the kenlm Python module is not installed")

SENTENCES = ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog", "the cat saw the dog",
             "on the mat the cat sat", "a dog ran", "the log is on the mat", "cats and dogs"] * 3 + [
                 "the mat is red", "a red dog"]
QUERIES = ["the cat sat on the log", "a red cat", "the zebra sat", "dogs"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
  try:
    lmplz, build_binary = find_kenlm_tool("lmplz"), find_kenlm_tool("build_binary")
  except FileNotFoundError as error:
    pytest.skip(str(error))
  folder = tmp_path_factory.mktemp("kenlm")
  text, arpa, binary = folder / "text.txt", folder / "lm.arpa", folder / "lm.binary"
  text.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
  with open(text, "rb") as source, open(arpa, "wb") as target:
    # --discount_fallback: a text this small lacks the count-of-counts that Kneser-Ney's discounts need
    subprocess.run([lmplz, "-o", "3", "--discount_fallback", "-T", str(folder)], stdin=source, stdout=target,
                   stderr=subprocess.PIPE, check=True, timeout=120)
  subprocess.run([build_binary, str(arpa), str(binary)], capture_output=True, check=True, timeout=120)
  with open(arpa, "rb") as source, gzip.open(str(arpa) + ".gz", "wb") as target:
    shutil.copyfileobj(source, target)
  return {"text": str(text), "arpa": str(arpa), "binary": str(binary), "arpa.gz": str(arpa) + ".gz"}


def test_lmplz_counts_every_distinct_ngram(models):
  assert arpa_header_counts(models["arpa"]) == independent_counts(models["text"], 3)


def test_build_binary_writes_kenlm_binary_format(models):
  with open(models["binary"], "rb") as handle:
    assert handle.read(8) == b"mmap lm "


def test_kenlm_reads_arpa_gzip_and_binary_alike(models):
  loaded = {kind: kenlm.Model(models[kind]) for kind in ("arpa", "arpa.gz", "binary")}
  for model in loaded.values():
    assert model.order == 3
  for query in QUERIES:
    scores = [model.score(query, bos=True, eos=True) for model in loaded.values()]
    assert max(scores) - min(scores) < 1e-4, (query, scores)


def test_in_house_reader_scores_the_lmplz_model_as_kenlm_does(models):
  in_house, reference = ArpaLanguageModel.from_file(models["arpa"]), kenlm.Model(models["binary"])
  for query in QUERIES:
    words, total = query.split() + ["</s>"], 0.0
    for position, word in enumerate(words):
      total += in_house.log10_prob(word, tuple(["<s>"] + words[:position]))
    assert total == pytest.approx(reference.score(query, bos=True, eos=True), abs=1e-4), query

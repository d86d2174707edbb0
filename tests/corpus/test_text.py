"""Tests for open_seq2seq/corpus/text.py: the sentence filter and the fortunes reader."""

import os
import re

import pytest

from open_seq2seq.corpus.text import (DEFAULT_FORTUNE_DIR, collect_transcripts, list_fortune_files,
                                      sentence_to_transcript, split_sentences, to_ascii)

TRANSCRIPT_RE = re.compile(r"^[A-Z']+( [A-Z']+)*$")


@pytest.mark.parametrize("sentence,expected", [
    ("Well-known facts are boring.", "WELL KNOWN FACTS ARE BORING"),
    ("He said, \"Don't go!\"", "HE SAID DON'T GO"),
    ("Caf\u00e9\u2019s open \u2014 come in.", "CAFE'S OPEN COME IN"),
    ("'Tis the season to be jolly...", "TIS THE SEASON TO BE JOLLY"),
    ("Well... maybe later, then.", "WELL MAYBE LATER THEN"),
    ("I have 3 cats.", None),
    ("NASA is big.", None),
    ("I'M shouting now.", None),
    ("Send mail to me@example.", None),
    ("He went and/or stayed.", None),
    ("Take the pill (carefully) now.", None),
    ("Apples, oranges, etc. are fruit.", None),
    ("Dr Who is on tonight.", None),
    ("Henry viii was a king.", None),
    ("The brr of the cold.", None),
    ("Q: What is the answer?", None),
    ("Too short.", None),
    ("no capital letter here.", None),
    ("No final punctuation here", None),
    ("One two three four five six seven eight nine ten eleven twelve "
     "thirteen fourteen fifteen sixteen seventeen eighteen nineteen.", None),
])
def test_sentence_filter(sentence, expected):
  ascii_text = to_ascii(sentence)
  sentences = split_sentences(ascii_text)
  assert len(sentences) == 1
  assert sentence_to_transcript(sentences[0], 3, 18) == expected


def test_sentence_split_keeps_abbreviations_together():
  parts = split_sentences(
      "It rained. Mr. Smith stayed home. Then J. R. Smith left! Fine.")
  texts = [" ".join(p) for p in parts]
  assert texts == ["It rained.", "Mr. Smith stayed home.",
                   "Then J. R. Smith left!", "Fine."]
  results = [sentence_to_transcript(p, 1, 18) for p in parts]
  assert results == ["IT RAINED", None, None, "FINE"]


def test_fortune_parsing(tmp_path):
  fdir = tmp_path / "fortunes"
  fdir.mkdir()
  (fdir / "b").write_bytes(
      b"The first entry is here.\n\t\t-- Some Author\n%\n"
      b"A s\x08second\x08d entry spans\ntwo lines. It has two sentences.\n%\n"
      b"The first entry is here.\n%\n")
  (fdir / "a").write_text("Another file comes first.\n%\n")
  (fdir / "a.dat").write_bytes(b"\x00\x01binary")
  os.symlink("a", str(fdir / "a.u8"))
  (fdir / "translate-me").write_text("Ego sum ens omnipotens.\n%\n")
  (fdir / "off").mkdir()
  (fdir / "off" / "rude").write_text("Never read this file at all.\n%\n")
  files = list_fortune_files(str(fdir))
  assert [os.path.basename(p) for p in files] == ["a", "b"]
  assert collect_transcripts(str(fdir), 3, 18) == [
      "ANOTHER FILE COMES FIRST", "THE FIRST ENTRY IS HERE",
      "A SECOND ENTRY SPANS TWO LINES", "IT HAS TWO SENTENCES"]


@pytest.mark.skipif(not os.path.isdir(DEFAULT_FORTUNE_DIR), reason="needs the fortunes package")
def test_real_fortunes_give_enough_sentences():
  transcripts = collect_transcripts(DEFAULT_FORTUNE_DIR, 3, 18)
  assert len(transcripts) >= 3600
  assert len(set(transcripts)) == len(transcripts)
  assert all(TRANSCRIPT_RE.match(t) for t in transcripts)

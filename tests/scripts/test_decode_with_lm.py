"""scripts/build_lm.py and scripts/decode.py on a fabricated logits dump: greedy CTC spells an
acoustically likelier misspelling, the LM beam search recovers the words; the (alpha, beta) grid, the
transcripts CSV and the beam dump; clear errors on bad input."""
import csv
import re

import numpy as np
import pytest

from open_seq2seq.decoders.lm import build as build_lm
from open_seq2seq.decoders import lm_decode as decode
from open_seq2seq.decoders.lm import estimate_kneser_ney, write_arpa
from open_seq2seq.data.speech2text.logits_file import write_logits
from open_seq2seq.data.speech2text.predictions import read_predictions
from tests.decoders.test_arpa_validation import upper_case_copy
from tests.e2e.e2e_helpers import REPO, run_script

VOCAB = REPO + "/open_seq2seq/test_utils/toy_speech_data/vocab.txt"
LABELS = " abcdefghijklmnopqrstuvwxyz'"


def frames_for(spoken):
  """Logit frames (character then blank) for ``spoken``; ``x|y`` marks a frame where x narrowly beats y."""
  rows = []
  for item in spoken:
    row = np.full(len(LABELS) + 1, -6.0)
    if "|" in item:
      likelier, truth = item.split("|")
      row[LABELS.index(likelier)], row[LABELS.index(truth)] = 2.2, 2.0
    else:
      row[LABELS.index(item)] = 4.0
    blank_row = np.full(len(LABELS) + 1, -6.0)
    blank_row[-1] = 4.0
    rows += [row, blank_row]
  return np.array(rows, dtype=np.float32)


@pytest.fixture()
def dump(tmp_path):
  text = tmp_path / "lm.txt"
  text.write_text("THE CAT SAT ON THE MAT\nA DOG SAT ON A LOG\nTHE DOG AND THE CAT\n")
  lm = tmp_path / "lm.arpa"
  assert build_lm.main(["--text", str(text), "--output", str(lm), "--order", "3", "--vocab", VOCAB]) == 0
  utterances = {"a.wav": (list("the cat s") + ["d|t"], "the cat sat"),
                "b.wav": (list("a dog ") + ["z|s"] + list("at"), "a dog sat")}
  logits = tmp_path / "logits.npz"
  write_logits(str(logits), list(utterances), [frames_for(spoken) for spoken, _ in utterances.values()], 0.02,
               LABELS)
  labels = tmp_path / "labels.csv"
  with open(labels, "w", newline="") as handle:
    writer = csv.writer(handle)
    writer.writerow(["wav_filename", "wav_filesize", "transcript"])
    for name, (_, transcript) in utterances.items():
      writer.writerow([name, 1, transcript])
  return {"lm": str(lm), "logits": str(logits), "labels": str(labels), "dir": tmp_path}


def test_eval_grid_and_transcripts(dump):
  output = str(dump["dir"] / "best.csv")
  beams = str(dump["dir"] / "beams.txt")
  printed = run_script(["scripts/decode.py", "--logits", dump["logits"], "--labels", dump["labels"], "--lm",
                        dump["lm"], "--vocab", VOCAB, "--alpha", "0", "--alpha_max", "1", "--alpha_step", "0.5",
                        "--beta", "0", "--beta_max", "1", "--beta_step", "1", "--unknown_word_offset", "0",
                        "--infer_output_file", output, "--dump_all_beams_to", beams]).stdout
  assert "greedy WER: 0.3333" in printed  # "sad" and "zat": 2 of 6 words
  rows = {(float(a), float(b)): float(wer) for a, b, wer in re.findall(r"^\| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|",
                                                                      printed, re.MULTILINE)}
  assert sorted(rows) == [(0.0, 0.0), (0.0, 1.0), (0.5, 0.0), (0.5, 1.0), (1.0, 0.0), (1.0, 1.0)]
  assert rows[(0.0, 0.0)] == pytest.approx(1 / 3, abs=1e-4)  # no LM at all: the beam search agrees with greedy
  assert rows[(1.0, 0.0)] < 1 / 3
  best = min(rows, key=rows.get)
  assert "best: alpha {:g}, beta {:g}, WER {:.4f}".format(best[0], best[1], rows[best]) in printed
  references = {"a.wav": "the cat sat", "b.wav": "a dog sat"}
  predictions = read_predictions(output)
  wrong_words = sum(sum(p != r for p, r in zip(predictions[n].split(), references[n].split())) for n in references)
  assert wrong_words / 6 == pytest.approx(rows[best], abs=1e-4)
  dumped = open(beams).read().splitlines()
  assert dumped[0] == "a.wav" and dumped[1].endswith("\t" + predictions["a.wav"])


def test_infer_mode(dump):
  output = str(dump["dir"] / "out.csv")
  run_script(["scripts/decode.py", "--logits", dump["logits"], "--lm", dump["lm"], "--vocab", VOCAB, "--alpha",
              "0.5", "--beta", "0", "--mode", "infer", "--infer_output_file", output, "--workers", "1"])
  assert list(read_predictions(output).values()) == ["the cat sat", "a dog sat"]


def test_not_a_logits_file(dump, tmp_path):
  bad = tmp_path / "bad.npz"
  bad.write_bytes(b"not a logits file")
  with pytest.raises(ValueError, match="bad.npz: not a logits .npz file"):
    decode.main(["--logits", str(bad), "--vocab", VOCAB, "--mode", "infer", "--infer_output_file",
                 str(tmp_path / "o.csv")])
  assert not (tmp_path / "o.csv").exists()


def test_vocabulary_mismatch(dump, tmp_path):
  vocab = tmp_path / "vocab.txt"
  vocab.write_text(" \na\nb\n")
  with pytest.raises(ValueError, match="made with the vocabulary"):
    decode.main(["--logits", dump["logits"], "--vocab", str(vocab), "--mode", "infer", "--infer_output_file",
                 str(tmp_path / "o.csv")])


def test_missing_transcripts(dump, tmp_path):
  labels = tmp_path / "partial.csv"
  labels.write_text("wav_filename,wav_filesize,transcript\na.wav,1,the cat sat\n")
  with pytest.raises(ValueError, match="partial.csv: no transcript for 1 utterances"):
    decode.main(["--logits", dump["logits"], "--labels", str(labels), "--vocab", VOCAB])


def test_lm_text_outside_the_alphabet(tmp_path):
  text = tmp_path / "text.txt"
  text.write_text("fine words\nnot fine: 42\n")
  with pytest.raises(ValueError, match=r"text.txt:2: characters \['2', '4', ':'\] are not in the vocabulary"):
    build_lm.main(["--text", str(text), "--output", str(tmp_path / "lm.arpa"), "--vocab", VOCAB])
  assert not (tmp_path / "lm.arpa").exists()


def test_lexicon_word_beats_a_misspelling(tmp_path):
  # "purred" is in the lexicon but never in the LM text; the acoustics narrowly prefer "purrad". Without the
  # lexicon both spellings are unknown words and the acoustics win; with it the known word is cheaper.
  text = tmp_path / "lm.txt"
  text.write_text("THE CAT SAT\nTHE CAT SAT ON THE MAT\n")
  lexicon = tmp_path / "words"
  lexicon.write_text("purred\nMat\ncafé\n")
  logits = tmp_path / "logits.npz"
  write_logits(str(logits), ["a.wav"], [frames_for(list("the cat purr") + ["a|e", "d"])], 0.02, LABELS)
  predictions = {}
  for name, extra in [("plain", []), ("lexicon", ["--lexicon", str(lexicon)])]:
    lm = str(tmp_path / (name + ".arpa"))
    printed = run_script(["scripts/build_lm.py", "--text", str(text), "--output", lm, "--order", "2", "--vocab",
                          VOCAB] + extra).stdout
    output = str(tmp_path / (name + ".csv"))
    run_script(["scripts/decode.py", "--logits", str(logits), "--lm", lm, "--vocab", VOCAB, "--alpha", "0.5",
                "--beta", "0", "--mode", "infer", "--infer_output_file", output, "--workers", "1"])
    predictions[name] = read_predictions(output)["a.wav"]
  assert "words: 2 words, 1 skipped (characters outside" in printed
  assert predictions == {"plain": "the cat purrad", "lexicon": "the cat purred"}


def test_lexicon_with_several_words_on_a_line(tmp_path):
  text = tmp_path / "lm.txt"
  text.write_text("the cat\n")
  lexicon = tmp_path / "words.txt"
  lexicon.write_text("dog\nhot dog\n")
  with pytest.raises(ValueError, match=r"words.txt:2: expected one word per line, got 'hot dog'"):
    build_lm.main(["--text", str(text), "--output", str(tmp_path / "lm.arpa"), "--lexicon", str(lexicon)])
  assert not (tmp_path / "lm.arpa").exists()


def test_lm_text_and_labels_that_are_not_utf8(dump, tmp_path):
  text = tmp_path / "latin1.txt"
  text.write_bytes(b"the cat\ncaf\xe9 au lait\n")
  with pytest.raises(ValueError, match=r"latin1.txt:\d+: not UTF-8 text"):
    build_lm.main(["--text", str(text), "--output", str(tmp_path / "latin1.arpa")])
  assert not (tmp_path / "latin1.arpa").exists()
  labels = tmp_path / "latin1_labels.csv"
  labels.write_bytes(b"wav_filename,wav_filesize,transcript\na.wav,1,caf\xe9\n")
  with pytest.raises(ValueError, match=r"latin1_labels.csv: not a readable UTF-8 CSV file"):
    decode.main(["--logits", dump["logits"], "--labels", str(labels), "--vocab", VOCAB])


def decode_table_and_beams(dump, lm, name, backend="in_house"):
  """(WER rows of the grid, beam dump of the best pair, stderr) of decode.py with ``lm``."""
  beams = str(dump["dir"] / (name + "_beams.txt"))
  result = run_script(["scripts/decode.py", "--logits", dump["logits"], "--labels", dump["labels"], "--lm", lm,
                       "--vocab", VOCAB, "--alpha", "0", "--alpha_max", "1", "--alpha_step", "0.5", "--beta", "0",
                       "--beta_max", "1", "--beta_step", "1", "--unknown_word_offset", "-5",
                       "--dump_all_beams_to", beams, "--workers", "2", "--lm_backend", backend])
  rows = re.findall(r"^\| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|", result.stdout, re.MULTILINE)
  return rows, open(beams).read(), result.stderr


def test_upper_case_lm_decodes_like_the_lower_case_one(dump):
  # LibriSpeech's published ARPA models are upper-case; the vocabulary is lower-case. The in-house reader folds
  # even the sentence markers (<S>), which KenLM refuses (tests/decoders/test_pyctcdecode_search.py).
  upper = dump["dir"] / "upper.arpa"
  upper.write_text(upper_case_copy(open(dump["lm"]).read()))
  assert "THE" in upper.read_text() and "<UNK>" in upper.read_text()
  lower_rows, lower_beams, _ = decode_table_and_beams(dump, dump["lm"], "lower")
  upper_rows, upper_beams, stderr = decode_table_and_beams(dump, str(upper), "upper")
  assert len(lower_rows) == 6 and upper_rows == lower_rows and upper_beams == lower_beams
  assert "Warning: {}: words lower-cased to match the vocabulary".format(upper) in stderr


def test_upper_case_lm_with_pyctcdecode_decodes_like_the_lower_case_one(dump):
  upper = dump["dir"] / "upper.arpa"
  upper.write_text(recased_copy(open(dump["lm"]).read(), lambda word: word if word in ("<s>", "</s>") else
                                word.upper()))
  assert "\tTHE" in upper.read_text() and "<UNK>" in upper.read_text()
  lower_rows, lower_beams, _ = decode_table_and_beams(dump, dump["lm"], "lower", "pyctcdecode")
  upper_rows, upper_beams, stderr = decode_table_and_beams(dump, str(upper), "upper", "pyctcdecode")
  assert len(lower_rows) == 6 and upper_rows == lower_rows and upper_beams == lower_beams
  assert "Warning: {}: 9 words scored in the LM's spelling (the vocabulary is lower-case)".format(upper) in stderr


def recased_copy(text, recase):
  """``text`` with ``recase`` applied to every word of every n-gram line (markers included)."""
  lines = []
  for line in text.split("\n"):
    fields = line.split("\t")
    if len(fields) > 1:
      fields[1] = " ".join(recase(word) for word in fields[1].split(" "))
    lines.append("\t".join(fields))
  return "\n".join(lines)


@pytest.mark.parametrize("recase", [str.title, lambda word: word[0].upper() + word[1:].lower() if len(word) % 2 else
                                    word.upper()], ids=["title", "mixed"])
def test_title_and_mixed_case_lms_decode_like_the_lower_case_one(dump, recase):
  recased = dump["dir"] / "recased.arpa"
  recased.write_text(recased_copy(open(dump["lm"]).read(), recase))
  assert "THE" in recased.read_text() or "The" in recased.read_text()
  lower_rows, lower_beams, _ = decode_table_and_beams(dump, dump["lm"], "lower")
  rows, beams, _ = decode_table_and_beams(dump, str(recased), "recased")
  assert rows == lower_rows and beams == lower_beams


def test_lm_of_words_outside_the_vocabulary_is_refused(dump, tmp_path):
  foreign = tmp_path / "foreign.arpa"
  with open(foreign, "w", encoding="utf-8") as handle:
    write_arpa(estimate_kneser_ney([["привет", "мир"], ["мир", "1999"], ["a"]], order=2), handle)
  result = run_script(["scripts/decode.py", "--logits", dump["logits"], "--labels", dump["labels"], "--lm",
                       str(foreign), "--vocab", VOCAB], check=False)
  assert result.returncode == 1
  assert result.stderr.strip() == "*** Error: {}: only 1 of the LM's 4 words can be spelled with the vocabulary " \
      "{!r} (e.g. '1999', 'мир', 'привет'); expected an LM of the model's language and alphabet".format(
          str(foreign), LABELS)

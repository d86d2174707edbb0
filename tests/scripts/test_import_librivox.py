"""Tests for scripts/import_librivox.py."""

import csv
import glob
import os
import shutil
import unicodedata

import numpy as np
import pytest

from open_seq2seq.corpus import librivox_import as imp
from open_seq2seq.corpus.librispeech_audit import normalize_transcript

sf = pytest.importorskip("soundfile")

HAVE_ESPEAK = (shutil.which("espeak-ng") is not None
               and shutil.which("sox") is not None
               and os.path.isdir("/usr/share/games/fortunes"))


def _write_flac(path, samples, rate=16000):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  sf.write(path, samples, rate, subtype="PCM_16", format="FLAC")


def _make_tree(data_dir, split="dev-clean", lines=None, rate=16000):
  """A small LibriSpeech split written with soundfile (random audio)."""
  rng = np.random.RandomState(0)
  if lines is None:
    lines = {("84", "121123"): ["84-121123-0001 GO DO YOU HEAR",
                                "84-121123-0000 BUT IN LESS THAN FIVE MINUTES",
                                "84-121123-0002 CAF\u00c9 NA\u00cfVE  "],
             ("2", "5"): ["2-5-0000 A SECOND SPEAKER'S LINE"]}
  for (speaker, chapter), chapter_lines in lines.items():
    directory = os.path.join(data_dir, "LibriSpeech", split, speaker, chapter)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "{}-{}.trans.txt".format(
        speaker, chapter)), "w", encoding="utf-8") as f:
      f.write("\n".join(chapter_lines) + "\n")
    for line in chapter_lines:
      utt_id = line.split()[0]
      samples = (rng.randn(rng.randint(4000, 12000)) * 3000).astype(np.int16)
      _write_flac(os.path.join(directory, utt_id + ".flac"), samples, rate)
  return data_dir


def _reparse(data_dir, split):
  """Independent parse of the trans.txt files: {utt_id: (transcript, flac)}."""
  result = {}
  pattern = os.path.join(data_dir, "LibriSpeech", split, "*", "*",
                         "*.trans.txt")
  for path in glob.glob(pattern):
    with open(path, encoding="utf-8") as f:
      for line in f:
        if not line.strip():
          continue
        utt_id, text = line.strip().split(" ", 1)
        text = unicodedata.normalize("NFKD", text).encode(
            "ascii", "ignore").decode().lower().strip()
        result[utt_id] = (text, os.path.join(os.path.dirname(path),
                                             utt_id + ".flac"))
  return result


def _read_csv(path):
  with open(path, newline="") as f:
    rows = list(csv.reader(f))
  assert rows[0] == ["wav_filename", "wav_filesize", "transcript"]
  return rows[1:]


def _check_split(data_dir, split):
  rows = _read_csv(os.path.join(data_dir, "librivox-{}.csv".format(split)))
  expected = _reparse(data_dir, split)
  assert len(rows) == len(expected) > 0
  ids = [os.path.basename(r[0])[:-4] for r in rows]
  assert ids == sorted(expected)
  for (wav_rel, size, transcript), utt_id in zip(rows, ids):
    assert wav_rel == "LibriSpeech/{}-wav/{}.wav".format(split, utt_id)
    wav = os.path.join(data_dir, wav_rel)
    assert int(size) == os.path.getsize(wav)
    assert transcript == expected[utt_id][0]
    info = sf.info(wav)
    assert (info.format, info.subtype, info.samplerate, info.channels) == (
        "WAV", "PCM_16", 16000, 1)
    wav_data, _ = sf.read(wav, dtype="int16")
    flac_data, _ = sf.read(expected[utt_id][1], dtype="int16")
    np.testing.assert_array_equal(wav_data, flac_data)
  return rows


def test_synthetic_tree(tmp_path):
  data_dir = _make_tree(str(tmp_path))
  assert imp.main(["--data_dir", data_dir, "--workers", "2"]) == 0
  rows = _check_split(data_dir, "dev-clean")
  assert [r[2] for r in rows] == ["a second speaker's line",
                                  "but in less than five minutes",
                                  "go do you hear", "cafe naive"]
  assert not os.path.exists(os.path.join(data_dir,
                                         "librivox-test-clean.csv"))


@pytest.mark.skipif(not HAVE_ESPEAK, reason="needs espeak-ng, sox, fortunes")
def test_mini_corpus_end_to_end(tmp_path):
  from open_seq2seq.corpus.build import main as build_mini_corpus
  data_dir = str(tmp_path / "data")
  assert build_mini_corpus(["--output_dir", data_dir, "--num_train_utterances", "6",
                            "--num_dev_utterances", "2", "--num_test_utterances", "2"]
                           ) == 0
  assert imp.main(["--data_dir", data_dir]) == 0
  for split, count in (("train-clean-100", 6), ("dev-clean", 2),
                       ("test-clean", 2)):
    assert len(_check_split(data_dir, split)) == count


def test_rerun_is_idempotent_and_repairs(tmp_path):
  data_dir = _make_tree(str(tmp_path))
  assert imp.main(["--data_dir", data_dir]) == 0
  csv_path = os.path.join(data_dir, "librivox-dev-clean.csv")
  first_csv = open(csv_path, "rb").read()
  wav_dir = os.path.join(data_dir, "LibriSpeech", "dev-clean-wav")
  wavs = sorted(os.listdir(wav_dir))
  before = {w: open(os.path.join(wav_dir, w), "rb").read() for w in wavs}
  stamps = {w: os.stat(os.path.join(wav_dir, w)).st_mtime_ns for w in wavs}
  # truncate one wav (as if written by a tool that was killed)
  victim = os.path.join(wav_dir, wavs[0])
  with open(victim, "r+b") as f:
    f.truncate(os.path.getsize(victim) // 2)
  stale = os.path.join(wav_dir, ".x.wav.tmp.1.1")
  open(stale, "wb").close()
  assert imp.main(["--data_dir", data_dir, "--splits", "dev-clean"]) == 0
  assert open(csv_path, "rb").read() == first_csv
  after = {w: open(os.path.join(wav_dir, w), "rb").read()
           for w in sorted(os.listdir(wav_dir))}
  assert after == before
  assert not os.path.exists(stale)
  for w in wavs[1:]:  # complete files were not rewritten
    assert os.stat(os.path.join(wav_dir, w)).st_mtime_ns == stamps[w]


def test_deterministic(tmp_path):
  a = _make_tree(str(tmp_path / "a"))
  b = _make_tree(str(tmp_path / "b"))
  assert imp.main(["--data_dir", a, "--workers", "1"]) == 0
  assert imp.main(["--data_dir", b, "--workers", "3"]) == 0
  for rel in ["librivox-dev-clean.csv"] + [
      os.path.join("LibriSpeech", "dev-clean-wav", w)
      for w in os.listdir(os.path.join(a, "LibriSpeech", "dev-clean-wav"))]:
    assert open(os.path.join(a, rel), "rb").read() == open(
        os.path.join(b, rel), "rb").read(), rel


def test_split_selection(tmp_path):
  data_dir = _make_tree(str(tmp_path))
  _make_tree(data_dir, split="test-other")
  os.makedirs(os.path.join(data_dir, "LibriSpeech", "not-a-split"))
  assert imp.find_splits(os.path.join(data_dir, "LibriSpeech")) == [
      "dev-clean", "test-other"]
  assert imp.main(["--data_dir", data_dir, "--splits", "test-other"]) == 0
  assert sorted(glob.glob(os.path.join(data_dir, "*.csv"))) == [
      os.path.join(data_dir, "librivox-test-other.csv")]
  assert imp.main(["--data_dir", data_dir]) == 0
  assert len(glob.glob(os.path.join(data_dir, "*.csv"))) == 2


def _expect_error(data_dir, capsys, *needles):
  assert imp.main(["--data_dir", data_dir, "--workers", "2"]) == 1
  err = capsys.readouterr().err
  for needle in needles:
    assert needle in err, err
  assert not os.path.exists(os.path.join(data_dir, "librivox-dev-clean.csv"))


def _flac(data_dir, utt_id):
  speaker, chapter, _ = utt_id.split("-")
  return os.path.join(data_dir, "LibriSpeech", "dev-clean", speaker, chapter,
                      utt_id + ".flac")


def test_corrupt_flac(tmp_path, capsys):
  data_dir = _make_tree(str(tmp_path))
  bad = _flac(data_dir, "84-121123-0001")
  with open(bad, "wb") as f:
    f.write(b"this is not a flac file" * 50)
  _expect_error(data_dir, capsys, bad)


def test_truncated_flac(tmp_path, capsys):
  data_dir = _make_tree(str(tmp_path))
  bad = _flac(data_dir, "2-5-0000")
  with open(bad, "r+b") as f:
    f.truncate(os.path.getsize(bad) // 2)
  _expect_error(data_dir, capsys, bad)


def test_missing_flac(tmp_path, capsys):
  data_dir = _make_tree(str(tmp_path))
  missing = _flac(data_dir, "84-121123-0002")
  os.remove(missing)
  _expect_error(data_dir, capsys, "missing audio file", missing)


def test_wrong_sample_rate(tmp_path, capsys):
  data_dir = _make_tree(str(tmp_path), rate=8000)
  _expect_error(data_dir, capsys, "8000 Hz", ".flac")


@pytest.mark.parametrize("line", ["84-121123-0003", "84-121123-0003   ", "84-121123-0003 '", "84-121123-0003 ...",
                                  "84-121123-0003 \u2014", "../84-121123-0003 HELLO", "84/84-121123-0003 HELLO"])
def test_malformed_transcript_line(tmp_path, capsys, line):
  data_dir = _make_tree(str(tmp_path))
  trans = os.path.join(data_dir, "LibriSpeech", "dev-clean", "84", "121123",
                       "84-121123.trans.txt")
  with open(trans, "a") as f:
    f.write(line + "\n")
  _expect_error(data_dir, capsys, trans + ":4:")


def test_duplicate_utterance_id(tmp_path, capsys):
  data_dir = _make_tree(str(tmp_path), lines={
      ("1", "2"): ["1-2-0000 HELLO THERE"],
      ("1", "3"): ["1-2-0000 HELLO AGAIN"]})
  _expect_error(data_dir, capsys, "appears twice")


def test_missing_librispeech_folder(tmp_path, capsys):
  assert imp.main(["--data_dir", str(tmp_path)]) == 1
  assert os.path.join(str(tmp_path), "LibriSpeech") in capsys.readouterr().err
  os.makedirs(str(tmp_path / "LibriSpeech"))
  assert imp.main(["--data_dir", str(tmp_path)]) == 1
  assert "none of the split folders" in capsys.readouterr().err
  assert imp.main(["--data_dir", str(tmp_path), "--splits", "dev-other"]) == 1
  assert "dev-other" in capsys.readouterr().err


def test_normalize_transcript():
  assert normalize_transcript("  \u00c9COLE  D'\u00c9T\u00c9 ") == (
      "ecole  d'ete")  # inner spaces are kept, as in OpenSeq2Seq


def test_keep_flac_lists_the_flac_files(tmp_path):
  data_dir = _make_tree(str(tmp_path))
  assert imp.main(["--data_dir", data_dir, "--keep_flac"]) == 0
  rows = _read_csv(os.path.join(data_dir, "librivox-dev-clean.csv"))
  expected = _reparse(data_dir, "dev-clean")
  assert [os.path.basename(r[0])[:-5] for r in rows] == sorted(expected)
  for flac_rel, size, transcript in rows:
    utt_id = os.path.basename(flac_rel)[:-5]
    assert os.path.join(data_dir, flac_rel) == expected[utt_id][1]
    assert int(size) == os.path.getsize(expected[utt_id][1])
    assert transcript == expected[utt_id][0]
  assert not os.path.exists(os.path.join(data_dir, "LibriSpeech", "dev-clean-wav"))


def test_keep_flac_still_checks_the_audio(tmp_path, capsys):
  data_dir = _make_tree(str(tmp_path), rate=8000)
  assert imp.main(["--data_dir", data_dir, "--keep_flac"]) == 1
  assert "sample rate of 8000 Hz" in capsys.readouterr().err


def _trans(data_dir, speaker, chapter):
  return os.path.join(data_dir, "LibriSpeech", "dev-clean", speaker, chapter,
                      "{}-{}.trans.txt".format(speaker, chapter))


def _break_pairing(data_dir):
  """One problem of each kind; returns (problem lines expected on stderr, ids still complete)."""
  orphan = _flac(data_dir, "84-121123-0009")
  shutil.copy(_flac(data_dir, "84-121123-0000"), orphan)
  missing = _flac(data_dir, "84-121123-0002")
  os.remove(missing)
  with open(_trans(data_dir, "84", "121123"), "a") as f:
    f.write("84-121123-0001 SAID TWICE\n")
  with open(_trans(data_dir, "2", "5"), "a") as f:
    f.write("2-5-0007\n")
  trans_84, trans_2 = _trans(data_dir, "84", "121123"), _trans(data_dir, "2", "5")
  lines = ["{}: no transcript line for 84-121123-0009 in the *.trans.txt of its folder".format(orphan),
           "{}:3: 84-121123-0002: missing audio file {}".format(trans_84, missing),
           "utterance id 84-121123-0001 appears twice: in {}:1 and in {}:4".format(trans_84, trans_84),
           "{}:2: expected '<utterance-id> <TRANSCRIPT>', got '2-5-0007'".format(trans_2)]
  return lines, ["2-5-0000", "84-121123-0000"]


SUMMARY = ("dev-clean: 4 problem(s) between transcripts and FLAC files (malformed transcript line: 1, duplicate "
           "utterance id: 1, transcript line without a FLAC: 1, FLAC without a transcript line: 1), listed above")


@pytest.mark.parametrize("keep_flac", [[], ["--keep_flac"]])
def test_unpaired_files_are_listed_and_an_error(tmp_path, capsys, keep_flac):
  data_dir = _make_tree(str(tmp_path))
  lines, _ = _break_pairing(data_dir)
  assert imp.main(["--data_dir", data_dir] + keep_flac) == 1
  err = capsys.readouterr().err.splitlines()
  assert sorted(line.strip() for line in err[:-1]) == sorted(lines)
  assert err[-1].startswith("*** Error: " + SUMMARY + "; a complete LibriSpeech download")
  assert "--skip_incomplete to import the 2 complete utterances" in err[-1]
  assert not os.path.exists(os.path.join(data_dir, "librivox-dev-clean.csv"))
  assert not os.path.exists(os.path.join(data_dir, "LibriSpeech", "dev-clean-wav"))


def test_skip_incomplete_imports_what_pairs_up_and_lists_the_rest(tmp_path, capsys):
  data_dir = _make_tree(str(tmp_path))
  lines, complete = _break_pairing(data_dir)
  assert imp.main(["--data_dir", data_dir, "--skip_incomplete"]) == 0
  err = capsys.readouterr().err
  assert all(line in err for line in lines)
  assert SUMMARY + "; --skip_incomplete: importing the 2 complete utterances" in err
  rows = _read_csv(os.path.join(data_dir, "librivox-dev-clean.csv"))
  assert rows == [["LibriSpeech/dev-clean-wav/2-5-0000.wav", rows[0][1], "a second speaker's line"],
                  ["LibriSpeech/dev-clean-wav/84-121123-0000.wav", rows[1][1], "but in less than five minutes"]]
  assert sorted(os.listdir(os.path.join(data_dir, "LibriSpeech", "dev-clean-wav"))) == [
      utt + ".wav" for utt in complete]


def test_skip_incomplete_with_nothing_complete_is_an_error(tmp_path, capsys):
  data_dir = _make_tree(str(tmp_path), lines={("1", "2"): ["1-2-0000 HELLO THERE"]})
  os.remove(_flac(data_dir, "1-2-0000"))
  assert imp.main(["--data_dir", data_dir, "--skip_incomplete"]) == 1
  assert "no complete utterance is left to import" in capsys.readouterr().err


def _rewrite_transcripts(data_dir, encode):
  for path in glob.glob(os.path.join(data_dir, "LibriSpeech", "dev-clean", "*", "*", "*.trans.txt")):
    with open(path, encoding="utf-8") as f:
      text = f.read()
    with open(path, "wb") as f:
      f.write(encode(text))


@pytest.mark.parametrize("encode", [
    lambda text: text.replace("\n", "\r\n").encode(),
    lambda text: text.replace("\n", "\r").encode(),
    lambda text: b"\xef\xbb\xbf" + text.encode(),
    lambda text: b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode(),
], ids=["crlf", "cr", "bom", "bom-crlf"])
def test_windows_and_mac_transcript_files_import_like_plain_ones(tmp_path, encode):
  # The oracle: the same tree with plain UTF-8, \n-terminated transcript files.
  plain, other = _make_tree(str(tmp_path / "plain")), _make_tree(str(tmp_path / "other"))
  _rewrite_transcripts(other, encode)
  for data_dir in (plain, other):
    assert imp.main(["--data_dir", data_dir, "--keep_flac"]) == 0
  with open(os.path.join(plain, "librivox-dev-clean.csv"), "rb") as a, \
       open(os.path.join(other, "librivox-dev-clean.csv"), "rb") as b:
    assert a.read() == b.read()


def test_a_nul_byte_in_a_transcript_line_is_named(tmp_path, capsys):
  data_dir = _make_tree(str(tmp_path))
  trans = _trans(data_dir, "84", "121123")
  with open(trans, "rb") as f:
    lines = f.read().split(b"\n")
  lines[1] = lines[1].replace(b" LESS ", b" LE\0SS ")
  with open(trans, "wb") as f:
    f.write(b"\n".join(lines))
  _expect_error(data_dir, capsys, trans + ":2: holds a NUL byte")


def _damage(path, how):
  with open(path, "rb") as f:
    data = bytearray(f.read())
  if how == "truncated":
    data = data[:len(data) // 2]
  elif how == "bit-flipped":
    data[len(data) // 2:len(data) // 2 + 64] = bytes(b ^ 0xFF for b in data[len(data) // 2:len(data) // 2 + 64])
  else:
    data = bytearray(b"" if how == "empty" else b"\x00\x01garbage" * 40)
  with open(path, "wb") as f:
    f.write(bytes(data))


@pytest.mark.parametrize("keep_flac", [[], ["--keep_flac"]])
def test_every_damaged_flac_is_listed_at_once(tmp_path, capsys, keep_flac):
  data_dir = _make_tree(str(tmp_path))
  damaged = {"84-121123-0000": "truncated", "84-121123-0001": "bit-flipped", "84-121123-0002": "garbage",
             "2-5-0000": "empty"}
  for utt_id, how in damaged.items():
    _damage(_flac(data_dir, utt_id), how)
  assert imp.main(["--data_dir", data_dir] + keep_flac) == 1
  err = capsys.readouterr().err.splitlines()
  listed = [line.split(".flac")[0].split(" ")[-1] + ".flac" for line in err if line.startswith("  ")]
  assert sorted(listed) == sorted(_flac(data_dir, utt_id) for utt_id in damaged)
  assert err[-1].startswith("*** Error: dev-clean: 4 FLAC file(s) that cannot be read or decoded")
  assert not os.path.exists(os.path.join(data_dir, "librivox-dev-clean.csv"))


def test_skip_incomplete_leaves_damaged_flacs_out(tmp_path, capsys):
  data_dir = _make_tree(str(tmp_path))
  _damage(_flac(data_dir, "84-121123-0001"), "bit-flipped")
  assert imp.main(["--data_dir", data_dir, "--skip_incomplete"]) == 0
  assert "1 FLAC file(s) that cannot be read or decoded" in capsys.readouterr().err
  rows = _read_csv(os.path.join(data_dir, "librivox-dev-clean.csv"))
  assert [os.path.basename(row[0]) for row in rows] == ["2-5-0000.wav", "84-121123-0000.wav", "84-121123-0002.wav"]


def test_chapters_without_or_with_an_empty_transcript_file_and_extra_files(tmp_path, capsys):
  data_dir = _make_tree(str(tmp_path))
  chapter = os.path.dirname(_flac(data_dir, "2-5-0000"))
  os.makedirs(os.path.join(chapter, "notes", "deeper"))
  for name in ("README.TXT", os.path.join("notes", "x.txt"), ".DS_Store"):
    with open(os.path.join(chapter, name), "w") as f:
      f.write("not audio")
  assert imp.main(["--data_dir", data_dir, "--keep_flac"]) == 0  # extra non-FLAC files change nothing
  capsys.readouterr()
  no_transcript = os.path.join(data_dir, "LibriSpeech", "dev-clean", "7", "8")
  os.makedirs(no_transcript)
  shutil.copy(_flac(data_dir, "2-5-0000"), os.path.join(no_transcript, "7-8-0000.flac"))
  open(_trans(data_dir, "2", "5"), "w").close()
  assert imp.main(["--data_dir", data_dir, "--keep_flac"]) == 1
  err = capsys.readouterr().err
  for flac in (_flac(data_dir, "2-5-0000"), os.path.join(no_transcript, "7-8-0000.flac")):
    assert "{}: no transcript line for".format(flac) in err
  assert "FLAC without a transcript line: 2" in err.splitlines()[-1]

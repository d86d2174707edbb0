"""Tests for scripts/build_mini_corpus.py (needs espeak-ng, sox, fortunes)."""

import glob
import os
import re
import shutil

import numpy as np
import pytest

from tests.scripts.script_loader import load_script

sf = pytest.importorskip("soundfile")

bmc = load_script("build_mini_corpus")

pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("sox") is None
    or not os.path.isdir(bmc.DEFAULT_FORTUNE_DIR),
    reason="needs espeak-ng, sox and the fortunes package")

TINY = ["--num_train_utterances", "6", "--num_dev_utterances", "2",
        "--num_test_utterances", "2", "--workers", "2"]
TRANSCRIPT_RE = re.compile(r"^[A-Z']+( [A-Z']+)*$")
UTT_RE = re.compile(r"^(\d+)-(\d+)-(\d{4})$")


def _build(output_dir, *extra):
  assert bmc.main(["--output_dir", str(output_dir)] + TINY + list(extra)) == 0
  return os.path.join(str(output_dir), "LibriSpeech")


def _read_trans(root):
  """{split: {utt_id: transcript}} parsed from the trans.txt files."""
  result = {}
  for split in bmc.SPLITS:
    utts = {}
    for path in sorted(glob.glob(os.path.join(root, split, "*", "*",
                                              "*.trans.txt"))):
      with open(path, encoding="ascii") as f:
        lines = f.read().splitlines()
      ids = [line.split(" ", 1)[0] for line in lines]
      assert ids == sorted(ids), path
      for line in lines:
        utt_id, transcript = line.split(" ", 1)
        utts[utt_id] = transcript
    result[split] = utts
  return result


def _all_files(root):
  files = {}
  for dirpath, _, names in os.walk(root):
    for name in names:
      path = os.path.join(dirpath, name)
      with open(path, "rb") as f:
        files[os.path.relpath(path, root)] = f.read()
  return files


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
  return _build(tmp_path_factory.mktemp("mini") / "out")


def test_layout(corpus):
  trans = _read_trans(corpus)
  assert {s: len(u) for s, u in trans.items()} == {
      "train-clean-100": 6, "dev-clean": 2, "test-clean": 2, "dev-other": 2}
  for split, utts in trans.items():
    assert os.path.isfile(os.path.join(corpus, ".complete_" + split))
    for utt_id in utts:
      speaker, chapter, _ = UTT_RE.match(utt_id).groups()
      flac = os.path.join(corpus, split, speaker, chapter, utt_id + ".flac")
      assert os.path.isfile(flac)
      assert os.path.isfile(os.path.join(
          corpus, split, speaker, chapter,
          "{}-{}.trans.txt".format(speaker, chapter)))
    flacs = glob.glob(os.path.join(corpus, split, "*", "*", "*.flac"))
    assert sorted(os.path.basename(f)[:-5] for f in flacs) == sorted(utts)
  assert os.path.isfile(os.path.join(corpus, "SPEAKERS.TXT"))
  # no temporary files left behind
  assert not [n for _, _, names in os.walk(corpus) for n in names
              if ".tmp." in n]


def test_flac_format(corpus):
  flacs = glob.glob(os.path.join(corpus, "*", "*", "*", "*.flac"))
  assert len(flacs) == 12
  for path in flacs:
    info = sf.info(path)
    assert info.format == "FLAC"
    assert info.samplerate == 16000
    assert info.channels == 1
    assert info.subtype == "PCM_16"
    assert 0.5 < info.duration < 20.0


def test_transcripts(corpus):
  trans = _read_trans(corpus)
  texts = [t for split, utts in trans.items() if split != "dev-other" for t in utts.values()]
  for text in texts:
    assert TRANSCRIPT_RE.match(text), text
    assert 3 <= len(text.split()) <= 18
  # no sentence in two splits (and no duplicates at all); the dev proxy reads the dev sentences
  assert len(set(texts)) == len(texts)
  assert sorted(trans["dev-other"].values()) == sorted(trans["dev-clean"].values())


def test_speakers_disjoint(corpus):
  trans = _read_trans(corpus)
  speakers = {split: {u.split("-")[0] for u in utts}
              for split, utts in trans.items()}
  assert not speakers["train-clean-100"] & speakers["dev-clean"]
  assert not speakers["train-clean-100"] & speakers["test-clean"]
  assert not speakers["dev-clean"] & speakers["test-clean"]
  assert not speakers["dev-other"] & (speakers["train-clean-100"] | speakers["dev-clean"])
  # SPEAKERS.TXT agrees with the tree, one chapter per speaker
  table = {}
  with open(os.path.join(corpus, "SPEAKERS.TXT")) as f:
    for line in f:
      if line.startswith(";"):
        continue
      fields = [x.strip() for x in line.split("|")]
      table[fields[0]] = fields
  # the default 400 training speakers + 4 dev + 4 test + 8 dev-other
  assert len(table) == 416
  for split, ids in speakers.items():
    for speaker in ids:
      assert table[speaker][1] == split
      assert os.listdir(os.path.join(corpus, split, speaker)) == [
          str(int(speaker) * 10 + 1)]
  train = [f for f in table.values() if f[1] == "train-clean-100"]
  other = [f for f in table.values() if f[1] != "train-clean-100"]
  # a voice+variant may serve two training speakers, never with the same timbre
  assert len({tuple(f[2:8]) for f in train}) == len(train) == 400
  assert not {(f[2], f[3]) for f in train} & {(f[2], f[3]) for f in other}
  assert not {f[3] for f in train} & set(bmc.DEV_OTHER_VARIANTS)
  assert sum(f[8] == "yes" for f in train) == 40  # --world_fraction 0.1
  assert all(f[2] != "en-gb" for f in table.values())
  for f in table.values():
    assert 140 <= int(f[4]) <= 200 and 30 <= int(f[5]) <= 70
  for f in train:
    assert 0.88 <= float(f[7]) <= 1.14 and 0 <= int(f[6]) <= 3


def test_deterministic(corpus, tmp_path):
  again = _build(tmp_path / "again", "--workers", "1")
  first, second = _all_files(corpus), _all_files(again)
  assert sorted(first) == sorted(second)
  for name in first:
    assert first[name] == second[name], name
  other = _build(tmp_path / "other", "--seed", "1")
  assert _read_trans(other) != _read_trans(corpus)


def test_resume_after_interruption(corpus, tmp_path):
  out = tmp_path / "resume"
  shutil.copytree(os.path.dirname(corpus), str(out))
  root = os.path.join(str(out), "LibriSpeech")
  victim = sorted(glob.glob(os.path.join(root, "dev-clean", "*", "*",
                                         "*.flac")))[0]
  expected = open(victim, "rb").read()
  os.remove(victim)
  os.remove(os.path.join(root, ".complete_dev-clean"))
  stale = os.path.join(os.path.dirname(victim), ".x.flac.tmp.1.1")
  with open(stale, "wb") as f:
    f.write(b"half a file")
  _build(out)
  assert open(victim, "rb").read() == expected
  assert not os.path.exists(stale)
  assert os.path.isfile(os.path.join(root, ".complete_dev-clean"))
  assert _all_files(root) == _all_files(corpus)


def test_refuses_different_settings(corpus, tmp_path, capsys):
  out = tmp_path / "settings"
  shutil.copytree(os.path.dirname(corpus), str(out))
  assert bmc.main(["--output_dir", str(out)] + TINY + ["--seed", "5"]) == 1
  assert "different settings" in capsys.readouterr().err


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
  ascii_text = bmc.to_ascii(sentence)
  sentences = bmc.split_sentences(ascii_text)
  assert len(sentences) == 1
  assert bmc.sentence_to_transcript(sentences[0], 3, 18) == expected


def test_sentence_split_keeps_abbreviations_together():
  parts = bmc.split_sentences(
      "It rained. Mr. Smith stayed home. Then J. R. Smith left! Fine.")
  texts = [" ".join(p) for p in parts]
  assert texts == ["It rained.", "Mr. Smith stayed home.",
                   "Then J. R. Smith left!", "Fine."]
  results = [bmc.sentence_to_transcript(p, 1, 18) for p in parts]
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
  files = bmc.list_fortune_files(str(fdir))
  assert [os.path.basename(p) for p in files] == ["a", "b"]
  assert bmc.collect_transcripts(str(fdir), 3, 18) == [
      "ANOTHER FILE COMES FIRST", "THE FIRST ENTRY IS HERE",
      "A SECOND ENTRY SPANS TWO LINES", "IT HAS TWO SENTENCES"]


def test_real_fortunes_give_enough_sentences():
  transcripts = bmc.collect_transcripts(bmc.DEFAULT_FORTUNE_DIR, 3, 18)
  assert len(transcripts) >= 3600
  assert len(set(transcripts)) == len(transcripts)
  assert all(TRANSCRIPT_RE.match(t) for t in transcripts)


def test_too_few_sentences(tmp_path, capsys):
  fdir = tmp_path / "fortunes"
  fdir.mkdir()
  (fdir / "tiny").write_text("Only one sentence lives here.\n%\n")
  rc = bmc.main(["--output_dir", str(tmp_path / "out"), "--fortune_dir",
                 str(fdir)] + TINY)
  assert rc == 1
  err = capsys.readouterr().err
  assert "only 1 usable sentences" in err and "10 utterances" in err


def test_training_takes_every_sentence_dev_and_test_leave_by_default(tmp_path, capsys):
  fdir = tmp_path / "fortunes"
  fdir.mkdir()
  sentences = ["The {} cat sat on a mat.".format(w) for w in
               ("red", "big", "old", "wet", "shy", "fat", "odd")]
  (fdir / "cats").write_text("".join(s + "\n%\n" for s in sentences))
  out = tmp_path / "out"
  assert bmc.main(["--output_dir", str(out), "--fortune_dir", str(fdir),
                   "--num_dev_utterances", "2", "--num_test_utterances", "1",
                   "--num_train_speakers", "2"]) == 0
  assert "train-clean-100 4 utterances, dev-clean 2 utterances, test-clean 1 " \
         "utterances" in capsys.readouterr().out
  assert bmc.main(["--output_dir", str(tmp_path / "none"), "--fortune_dir",
                   str(fdir), "--num_dev_utterances", "4",
                   "--num_test_utterances", "3"]) == 1
  assert "only 7 usable sentences found, none left for training after 4 dev " \
         "and 3 test" in capsys.readouterr().err


def test_missing_tools(tmp_path, monkeypatch, capsys):
  monkeypatch.setenv("PATH", str(tmp_path))
  assert bmc.main(["--output_dir", str(tmp_path / "out")] + TINY) == 1
  assert "'espeak-ng' was not found" in capsys.readouterr().err
  assert not (tmp_path / "out").exists()


def test_select_speakers():
  speakers = bmc.select_speakers(0, 36, 4, 4)
  assert speakers == bmc.select_speakers(0, 36, 4, 4)
  assert speakers != bmc.select_speakers(1, 36, 4, 4)
  assert sorted(s["speaker"] for s in speakers) == list(range(1000, 1044))
  assert len({(s["voice"], s["variant"]) for s in speakers}) == 44  # no reuse while combinations are free
  for split in ("dev-clean", "test-clean"):
    held = [s for s in speakers if s["split"] == split]
    assert len(held) == 4
    assert len({s["voice"] for s in held}) >= 3
    assert {s["variant"][0] for s in held} == {"m", "f"}
  train = [s for s in speakers if s["split"] == "train-clean-100"]
  assert len({s["voice"] for s in train}) == len(bmc.VOICES)
  # past the free combinations they are reused, each with a timbre of its own
  many = [s for s in bmc.select_speakers(0, 500, 4, 4, world_fraction=0.5) if s["split"] == "train-clean-100"]
  combos = [(s["voice"], s["variant"]) for s in many]
  assert len(set(combos)) == len(bmc.VOICES) * len(bmc.TRAIN_VARIANTS) - 8
  assert max(combos.count(c) for c in combos) == 2
  assert len({(s["voice"], s["variant"], s["speed"], s["pitch"], s["formant_shift"]) for s in many}) == 500
  assert sum("world" in s for s in many) == 250
  with pytest.raises(bmc.CorpusError, match="world_fraction"):
    bmc.select_speakers(0, 10, 4, 4, world_fraction=1.5)
  with pytest.raises(bmc.CorpusError, match="dev-other"):
    bmc.select_speakers(0, 10, 4, 4, num_dev_other=1000)


def test_held_out_speakers_do_not_depend_on_the_training_speakers():
  def held_out(num_train):
    return [s for s in bmc.select_speakers(0, num_train, 4, 4)
            if s["split"] != "train-clean-100"]
  assert held_out(36) == held_out(12) == held_out(150)
  train = [s for s in bmc.select_speakers(0, 150, 4, 4)
           if s["split"] == "train-clean-100"]
  held = {(s["voice"], s["variant"]) for s in held_out(150)}
  assert len({(s["voice"], s["variant"]) for s in train} | held) == 158


def _speaker(n, voice, variant):
  return {"speaker": n, "chapter": n * 10 + 1, "split": "train-clean-100",
          "voice": voice, "variant": variant, "speed": 170, "pitch": 50}


def test_check_speakers_detects_fallback(monkeypatch):
  espeak = shutil.which("espeak-ng")
  bmc.check_speakers([_speaker(1, "en-us", "m1"), _speaker(2, "en", "m1"),
                      _speaker(3, "en-gb-x-rp", "f2")], espeak)
  with pytest.raises(bmc.CorpusError, match="no variant 'nonexistent'"):
    bmc.check_speakers([_speaker(1, "en-us", "nonexistent")], espeak)
  with pytest.raises(bmc.CorpusError, match="ignores variants"):
    bmc.check_speakers([_speaker(1, "en-gb", "f1")], espeak)
  with pytest.raises(bmc.CorpusError, match="render identically"):
    bmc.check_speakers([_speaker(1, "en-us", "klatt"),
                        _speaker(2, "en-us", "klatt6")], espeak)
  # one voice+variant shared by two training speakers (their timbres differ) is fine
  bmc.check_speakers([_speaker(1, "en-us", "f1"), _speaker(2, "en-us", "f1")], espeak)
  # if the name check were fooled, the audio hash still catches the fallback
  real = bmc.espeak_voice_names
  monkeypatch.setattr(bmc, "espeak_voice_names", lambda e: (
      real(e)[0], real(e)[1] | {"m99"}))
  with pytest.raises(bmc.CorpusError, match="ignores variant 'm99'"):
    bmc.check_speakers([_speaker(1, "en-us", "m99")], espeak)


def test_lm_text_holds_every_sentence_but_dev_and_test(corpus):
  trans = _read_trans(corpus)
  with open(os.path.join(os.path.dirname(corpus), bmc.LM_TEXT_FILE_NAME), encoding="utf-8") as f:
    lm_sentences = f.read().splitlines()
  held_out = set(trans["dev-clean"].values()) | set(trans["test-clean"].values())
  assert not held_out & set(lm_sentences)
  assert set(trans["train-clean-100"].values()) <= set(lm_sentences)
  usable = bmc.collect_transcripts(bmc.DEFAULT_FORTUNE_DIR, 3, 18)
  assert sorted(lm_sentences) == sorted(set(usable) - held_out)


def test_dev_other_conditions(tmp_path):
  """Every dev-other utterance is listed with its condition; the GSM phone channel leaves nothing above 4 kHz."""
  # one dev-other speaker reading the 4 dev sentences goes through every condition
  corpus = _build(tmp_path / "other", "--num_dev_utterances", "4", "--num_dev_other_speakers", "1")
  trans = _read_trans(corpus)["dev-other"]
  with open(os.path.join(corpus, "dev-other", bmc.CONDITIONS_FILE_NAME), encoding="utf-8") as f:
    listed = dict(line.split(" ", 2)[:2] for line in f.read().splitlines())
  assert sorted(listed) == sorted(trans)
  assert sorted(listed.values()) == sorted(bmc.corpus_voices.PROXY_CONDITIONS)
  for utt_id, condition in listed.items():
    speaker, chapter, _ = UTT_RE.match(utt_id).groups()
    signal, rate = sf.read(os.path.join(corpus, "dev-other", speaker, chapter, utt_id + ".flac"))
    power = np.abs(np.fft.rfft(signal)) ** 2
    above_4k = power[np.fft.rfftfreq(len(signal), 1.0 / rate) > 4000].sum() / power.sum()
    if condition == "phone":
      assert above_4k < 1e-4
    else:
      assert above_4k > 1e-4

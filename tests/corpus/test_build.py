"""Tests for open_seq2seq/corpus/build.py: a tiny corpus built end to end (needs espeak-ng, sox, fortunes)."""

import glob
import os
import re
import shutil

import numpy as np
import pytest

from open_seq2seq.corpus import piper_voice
from open_seq2seq.corpus.build import PIPER_FRACTION, main
from open_seq2seq.corpus.layout import CONDITIONS_FILE_NAME, LM_TEXT_FILE_NAME, SPLITS
from open_seq2seq.corpus.speakers import DEV_OTHER_VARIANTS
from open_seq2seq.corpus.text import DEFAULT_FORTUNE_DIR, collect_transcripts
from open_seq2seq.corpus.voices import PROXY_CONDITIONS
from tests.e2e.e2e_helpers import snapshot

sf = pytest.importorskip("soundfile")

pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("sox") is None
    or not os.path.isdir(DEFAULT_FORTUNE_DIR),
    reason="needs espeak-ng, sox and the fortunes package")

TINY = ["--num_train_utterances", "6", "--num_dev_utterances", "2",
        "--num_test_utterances", "2", "--workers", "2"]
TRANSCRIPT_RE = re.compile(r"^[A-Z']+( [A-Z']+)*$")
UTT_RE = re.compile(r"^(\d+)-(\d+)-(\d{4})$")


def _build(output_dir, *extra):
  assert main(["--output_dir", str(output_dir)] + TINY + list(extra)) == 0
  return os.path.join(str(output_dir), "LibriSpeech")


def _read_trans(root):
  """{split: {utt_id: transcript}} parsed from the trans.txt files."""
  result = {}
  for split in SPLITS:
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
  assert not {f[3] for f in train} & set(DEV_OTHER_VARIANTS)
  assert sum(f[8] == "yes" for f in train) == 40  # --world_fraction 0.1
  assert all(f[2] != "en-gb" for f in table.values())
  piper = [f for f in train if f[2] == piper_voice.VOICE]
  assert len(piper) == round(400 * PIPER_FRACTION)  # VITS length scale as SPEED, no espeak-ng pitch
  for f in piper:
    assert 0.85 <= float(f[4]) <= 1.2 and f[5] == "-"
  for f in table.values():
    if f not in piper:
      assert 140 <= int(f[4]) <= 200 and 30 <= int(f[5]) <= 70
  for f in train:
    assert 0.88 <= float(f[7]) <= 1.14 and 0 <= int(f[6]) <= 3


def test_deterministic(corpus, tmp_path):
  again = _build(tmp_path / "again", "--workers", "1")
  first, second = snapshot(corpus), snapshot(again)
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
  assert snapshot(root) == snapshot(corpus)


def test_refuses_different_settings(corpus, tmp_path, capsys):
  out = tmp_path / "settings"
  shutil.copytree(os.path.dirname(corpus), str(out))
  assert main(["--output_dir", str(out)] + TINY + ["--seed", "5"]) == 1
  assert "different settings" in capsys.readouterr().err


def test_too_few_sentences(tmp_path, capsys):
  fdir = tmp_path / "fortunes"
  fdir.mkdir()
  (fdir / "tiny").write_text("Only one sentence lives here.\n%\n")
  rc = main(["--output_dir", str(tmp_path / "out"), "--fortune_dir",
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
  assert main(["--output_dir", str(out), "--fortune_dir", str(fdir),
               "--num_dev_utterances", "2", "--num_test_utterances", "1",
               "--num_train_speakers", "2"]) == 0
  assert "train-clean-100 4 utterances, dev-clean 2 utterances, test-clean 1 " \
         "utterances" in capsys.readouterr().out
  assert main(["--output_dir", str(tmp_path / "none"), "--fortune_dir",
               str(fdir), "--num_dev_utterances", "4",
               "--num_test_utterances", "3"]) == 1
  assert "only 7 usable sentences found, none left for training after 4 dev " \
         "and 3 test" in capsys.readouterr().err


def test_missing_tools(tmp_path, monkeypatch, capsys):
  monkeypatch.setenv("PATH", str(tmp_path))
  assert main(["--output_dir", str(tmp_path / "out")] + TINY) == 1
  assert "'espeak-ng' was not found" in capsys.readouterr().err
  assert not (tmp_path / "out").exists()


def test_lm_text_holds_every_sentence_but_dev_and_test(corpus):
  trans = _read_trans(corpus)
  with open(os.path.join(os.path.dirname(corpus), LM_TEXT_FILE_NAME), encoding="utf-8") as f:
    lm_sentences = f.read().splitlines()
  held_out = set(trans["dev-clean"].values()) | set(trans["test-clean"].values())
  assert not held_out & set(lm_sentences)
  assert set(trans["train-clean-100"].values()) <= set(lm_sentences)
  usable = collect_transcripts(DEFAULT_FORTUNE_DIR, 3, 18)
  assert sorted(lm_sentences) == sorted(set(usable) - held_out)


def test_dev_other_conditions(tmp_path):
  """Every dev-other utterance is listed with its condition; the GSM phone channel leaves nothing above 4 kHz."""
  # one dev-other speaker reading the 4 dev sentences goes through every condition
  corpus = _build(tmp_path / "other", "--num_dev_utterances", "4", "--num_dev_other_speakers", "1")
  trans = _read_trans(corpus)["dev-other"]
  with open(os.path.join(corpus, "dev-other", CONDITIONS_FILE_NAME), encoding="utf-8") as f:
    listed = dict(line.split(" ", 2)[:2] for line in f.read().splitlines())
  assert sorted(listed) == sorted(trans)
  assert sorted(listed.values()) == sorted(PROXY_CONDITIONS)
  for utt_id, condition in listed.items():
    speaker, chapter, _ = UTT_RE.match(utt_id).groups()
    signal, rate = sf.read(os.path.join(corpus, "dev-other", speaker, chapter, utt_id + ".flac"))
    power = np.abs(np.fft.rfft(signal)) ** 2
    above_4k = power[np.fft.rfftfreq(len(signal), 1.0 / rate) > 4000].sum() / power.sum()
    if condition == "phone":
      assert above_4k < 1e-4
    else:
      assert above_4k > 1e-4

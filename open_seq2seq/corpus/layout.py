"""The LibriSpeech layout of the mini corpus: split and file names, chapter folders, transcripts and tables.

The same layout as the real corpus, so ``scripts/import_librivox.py`` can be run on it unchanged::

    <output_dir>/LibriSpeech/<split>/<speaker>/<chapter>/<speaker>-<chapter>-<NNNN>.flac
    <output_dir>/LibriSpeech/<split>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt
    <output_dir>/LibriSpeech/SPEAKERS.TXT
    <output_dir>/LibriSpeech/.complete_<split>
    <output_dir>/librispeech-lm-norm.txt

with split names train-clean-100, dev-clean, test-clean and dev-other (which also holds CONDITIONS.TXT). The
last file is the language-model text, as the real corpus's LM resource: one upper-case sentence per line,
every usable sentence except the dev and test ones. The FLAC files are 16 kHz, 16-bit, mono. Every file is
written atomically (open_seq2seq/utils/atomic.py), so an interrupted build leaves no half-written file.
"""
import json
import os

from open_seq2seq.corpus import voices as corpus_voices
from open_seq2seq.utils.atomic import atomic_output

TRAIN_SPLIT = "train-clean-100"
DEV_SPLIT = "dev-clean"
TEST_SPLIT = "test-clean"
# The out-of-domain dev proxy: the dev sentences, read by variants training never hears, under recording
# conditions training-time augmentation never applies (open_seq2seq/corpus/voices.py).
DEV_OTHER_SPLIT = "dev-other"
SPLITS = (TRAIN_SPLIT, DEV_SPLIT, TEST_SPLIT, DEV_OTHER_SPLIT)

SAMPLE_RATE = 16000
SPEAKERS_FILE_NAME = "SPEAKERS.TXT"
CONDITIONS_FILE_NAME = "CONDITIONS.TXT"  # dev-other: the recording condition of each utterance
LM_TEXT_FILE_NAME = "librispeech-lm-norm.txt"


def utterance_id(speaker, index):
  """``<speaker>-<chapter>-<NNNN>`` of the ``index``-th utterance (from 0) of a speaker dict."""
  return "{}-{}-{:04d}".format(speaker["speaker"], speaker["chapter"], index)


def utterance_index(utt_id):
  """The speaker's utterance index (from 0) that ``utt_id`` ends in."""
  return int(utt_id.rsplit("-", 1)[1])


def chapter_dir(root, split, speaker):
  """``<root>/<split>/<speaker>/<chapter>`` of a speaker dict; ``root`` is the LibriSpeech folder."""
  return os.path.join(root, split, str(speaker["speaker"]),
                      str(speaker["chapter"]))


def write_text_atomic(path, text):
  """Writes ASCII ``text`` with ``\\n`` line ends to ``path`` atomically; UnicodeEncodeError for non-ASCII."""
  with atomic_output(path) as tmp, open(tmp, "w", encoding="ascii", newline="\n") as f:
    f.write(text)


def speakers_table(speakers, plan, seed):
  """SPEAKERS.TXT: a ``;`` header, then one ``|``-separated row per speaker dict with its utterance count.

  ``plan``: {split: [(speaker dict, utt_id, transcript), ...]}; ``seed`` is only quoted in the header.
  """
  counts = {}
  for items in plan.values():
    for s, _, _ in items:
      counts[s["speaker"]] = counts.get(s["speaker"], 0) + 1
  lines = [
      "; Synthetic espeak-ng speakers of the mini corpus "
      "(scripts/build_mini_corpus.py, seed {})".format(seed),
      "; voice and variant are espeak-ng's -v VOICE+VARIANT, speed is -s "
      "(words per minute), pitch is -p (0-99), gap is -g; training speakers' "
      "FORMANT scale and WORLD resynthesis are open_seq2seq/corpus/voices.py's; "
      "Piper speakers (open_seq2seq/corpus/piper_voice.py) give VITS's length scale as their SPEED",
      ";ID   | SUBSET          | VOICE           | VARIANT  | SPEED | PITCH"
      " | GAP | FORMANT | WORLD | UTTERANCES",
  ]
  for s in speakers:
    formant = "{:.3f}".format(s["formant_shift"]) if "formant_shift" in s else "-"
    lines.append("{:<5} | {:<15} | {:<15} | {:<8} | {:>5} | {:>5} | {:>3} | {:>7} | {:<5} | {}".format(
        s["speaker"], s["split"], s["voice"], s["variant"], s.get("speed", s.get("length_scale")),
        s.get("pitch", "-"), s.get("word_gap", 0), formant,
        "yes" if "world" in s else "no", counts.get(s["speaker"], 0)))
  return "\n".join(lines) + "\n"


def conditions_table(items):
  """``utt_id condition {params}`` lines of the dev-other utterances (``items`` of the plan)."""
  lines = []
  for speaker, utt_id, _ in sorted(items, key=lambda item: item[1]):
    name, params = corpus_voices.proxy_condition(speaker, utterance_index(utt_id))
    lines.append("{} {} {}".format(utt_id, name, json.dumps(params, sort_keys=True)))
  return "\n".join(lines) + "\n"


def write_split_tables(root, split, items, seed):
  """Writes a split's ``*.trans.txt`` (one per chapter), dev-other's CONDITIONS.TXT, then ``.complete_<split>``.

  ``root``: the LibriSpeech folder; ``items``: the split's [(speaker dict, utt_id, transcript), ...].
  """
  by_chapter = {}
  for s, utt_id, transcript in items:
    by_chapter.setdefault((s["speaker"], s["chapter"], chapter_dir(
        root, split, s)), []).append((utt_id, transcript))
  for (speaker, chapter, directory), chapter_items in sorted(by_chapter.items()):
    os.makedirs(directory, exist_ok=True)
    text = "".join("{} {}\n".format(u, t) for u, t in sorted(chapter_items))
    write_text_atomic(os.path.join(directory, "{}-{}.trans.txt".format(
        speaker, chapter)), text)
  if split == DEV_OTHER_SPLIT:
    write_text_atomic(os.path.join(root, split, CONDITIONS_FILE_NAME), conditions_table(items))
  write_text_atomic(os.path.join(root, ".complete_" + split), json.dumps({
      "utterances": len(items),
      "speakers": len(by_chapter),
      "seed": seed,
  }, sort_keys=True) + "\n")


def write_lm_text(output_dir, transcripts, plan):
  """Writes the LM text: every transcript, in order, that no dev or test utterance of ``plan`` reads."""
  held_out = {transcript for split in (DEV_SPLIT, TEST_SPLIT) for _, _, transcript in plan[split]}
  write_text_atomic(os.path.join(output_dir, LM_TEXT_FILE_NAME),
                    "".join(t + "\n" for t in transcripts if t not in held_out))

"""``dev-piper``: the dev sentences read by Piper's neural voice, a dev set of speech that espeak-ng did not make.

The espeak-ng dev sets (dev-clean, and dev-other's unseen variants and recording conditions) say little about
other synthesizers and human speech: espeak-only main-job models scored 45-46 % greedy on dev-other but
100.5-100.7 % on this set, as on the independent evaluation of issue 13. Each utterance is Piper's
``en_US-joe-medium`` at its own timbre and rate, with the voice's VITS noise on (its config's noise scales), unlike the
corpus's Piper training speakers (other rates and formant scales, noise off; piper_voice.py). The noise comes
from onnxruntime's generator, which advances with every synthesis: the set is rendered in one sequence from a
seeded session, always whole, so it is byte-identical for a given seed.

Written by the corpus builder beside the splits that the importer makes, already in their form: 16 kHz
16-bit WAV files under ``LibriSpeech/dev-piper-wav/`` and the manifest ``librivox-dev-piper.csv``
(``wav_filename,wav_filesize,transcript``, paths relative to the corpus folder), the manifest last.
"""
import csv
import io
import os

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from open_seq2seq.corpus import piper_voice
from open_seq2seq.corpus.layout import SAMPLE_RATE
from open_seq2seq.corpus.librivox_import import CSV_HEADER
from open_seq2seq.utils.atomic import atomic_output, remove_temp_files

SPLIT = "dev-piper"
MANIFEST_NAME = "librivox-dev-piper.csv"


def build_piper_dev(corpus_dir, transcripts, seed=0, log=print, progress=None):
  """Writes dev-piper (``transcripts``, the dev sentences in order) into ``corpus_dir`` unless its manifest
  exists; returns the number of utterances. ``progress``: a tqdm-like factory (total=...) or None.

  Raises CorpusError when Piper is not installed or renders nothing.
  """
  manifest = os.path.join(corpus_dir, MANIFEST_NAME)
  if os.path.exists(manifest):
    with open(manifest, encoding="utf-8", newline="") as f:
      return sum(1 for _ in csv.reader(f)) - 1
  from piper import SynthesisConfig
  voice = piper_voice.new_voice(noise_seed=seed)
  config = SynthesisConfig(length_scale=1.0)
  folder = os.path.join(corpus_dir, "LibriSpeech", SPLIT + "-wav")
  os.makedirs(folder, exist_ok=True)
  remove_temp_files(folder)
  bar = progress(total=len(transcripts), desc=SPLIT, unit="utt") if progress else None
  rows = []
  for index, transcript in enumerate(transcripts):
    audio = piper_voice.render(voice, transcript, config, "{} utterance {}".format(SPLIT, index))
    audio = resample_poly(audio, SAMPLE_RATE, voice.config.sample_rate)
    relative = os.path.join("LibriSpeech", SPLIT + "-wav", "{}-{:04d}.wav".format(SPLIT, index))
    path = os.path.join(corpus_dir, relative)
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(audio, -1.0, 1.0), SAMPLE_RATE, subtype="PCM_16", format="WAV")
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
      f.write(buffer.getvalue())
    # lower case, as the importer writes the other manifests
    rows.append((relative, len(buffer.getvalue()), transcript.lower()))
    if bar is not None:
      bar.update(1)
  if bar is not None:
    bar.close()
  with atomic_output(manifest) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
    writer = csv.writer(f, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(rows)
  log("{}: wrote {} ({} utterances)".format(SPLIT, manifest, len(rows)))
  return len(rows)

"""Writing a dev set read by another synthesizer (dev-piper, dev-hibari) beside the splits the importer makes.

Such a set is already in the importer's form: 16 kHz 16-bit mono WAV files under ``LibriSpeech/<split>-wav/``
and the manifest ``librivox-<split>.csv`` (``wav_filename,wav_filesize,transcript``, paths relative to the
corpus folder, transcripts in lower case), the manifest written last. A set whose manifest exists is finished
and kept as it is; an interrupted one is rendered again from its first utterance.
"""
import csv
import io
import math
import os

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from open_seq2seq.corpus.errors import CorpusError
from open_seq2seq.corpus.layout import SAMPLE_RATE
from open_seq2seq.corpus.librivox_import import CSV_HEADER, manifest_name
from open_seq2seq.utils.atomic import atomic_output, remove_temp_files

PEAK_DBFS = -1.0


def peak_normalized(audio, engine, who, text):
  """``audio`` (float samples) scaled to a peak of -1 dBFS. Raises CorpusError naming the synthesizer
  (``engine``), ``who`` it rendered and ``text`` when it rendered silence."""
  # the samples keep their dtype: the Piper speakers' bytes depend on float32 arithmetic here
  audio = np.asarray(audio)
  peak = float(np.max(np.abs(audio))) if audio.size else 0.0
  if peak == 0.0:
    raise CorpusError("{} rendered silence for {} ({!r})".format(engine, who, text))
  return audio * (10 ** (PEAK_DBFS / 20) / peak)


def write_tts_dev_set(corpus_dir, split, transcripts, new_synthesizer, log=print, progress=None):
  """Writes ``split`` into ``corpus_dir`` unless its manifest exists; returns the number of utterances.

  ``new_synthesizer()``, called only when the set is to be rendered, returns ``synthesize(index, transcript)
  -> (samples, sample_rate)``: float samples in [-1, 1] at any rate (resampled here to 16 kHz), called in
  order, once per transcript. ``progress``: a tqdm-like factory (total=...) or None. Raises CorpusError when
  ``transcripts`` is empty; the synthesizer's own errors pass.
  """
  manifest = os.path.join(corpus_dir, manifest_name(split))
  if os.path.exists(manifest):
    with open(manifest, encoding="utf-8", newline="") as f:
      return sum(1 for _ in csv.reader(f)) - 1
  if not transcripts:
    raise CorpusError("{}: no sentences to read".format(split))
  synthesize = new_synthesizer()
  folder = os.path.join(corpus_dir, "LibriSpeech", split + "-wav")
  os.makedirs(folder, exist_ok=True)
  remove_temp_files(folder)
  remove_temp_files(corpus_dir, target=manifest_name(split))
  bar = progress(total=len(transcripts), desc=split, unit="utt") if progress else None
  rows = []
  for index, transcript in enumerate(transcripts):
    samples, rate = synthesize(index, transcript)
    if rate != SAMPLE_RATE:
      common = math.gcd(int(rate), SAMPLE_RATE)
      samples = resample_poly(samples, SAMPLE_RATE // common, int(rate) // common)
    relative = os.path.join("LibriSpeech", split + "-wav", "{}-{:04d}.wav".format(split, index))
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(samples, -1.0, 1.0), SAMPLE_RATE, subtype="PCM_16", format="WAV")
    with atomic_output(os.path.join(corpus_dir, relative)) as tmp, open(tmp, "wb") as f:
      f.write(buffer.getvalue())
    rows.append((relative, len(buffer.getvalue()), transcript.lower()))
    if bar is not None:
      bar.update(1)
  if bar is not None:
    bar.close()
  with atomic_output(manifest) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
    writer = csv.writer(f, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(rows)
  log("{}: wrote {} ({} utterances)".format(split, manifest, len(rows)))
  return len(rows)

"""Post-processing: per-utterance logits -> greedy CTC transcripts -> corpus WER against the manifest.

Decoding and scoring are eval mode's own: TensorFlow's greedy CTC decoder over the valid frames, ids mapped
through the vocabulary, word-level edit distance summed over the corpus and divided by the reference words.
"""
import csv
import os

import tensorflow.compat.v1 as tf

from open_seq2seq.data.speech2text.manifest import read_manifests
from open_seq2seq.decoders.fc_decoders import greedy_ctc_decode
from open_seq2seq.models.speech2text import sparse_to_strings
from open_seq2seq.utils.atomic import atomic_output
from open_seq2seq.utils.metrics import word_errors
from open_seq2seq.export.bin_files import LOGITS_DTYPE, read_bin


class GreedyDecoder:
  """Greedy CTC decoding of one utterance's batch-major logits ``[frames, V+1]`` into a string."""

  def __init__(self, idx2char):
    self._idx2char = idx2char
    self._graph = tf.Graph()
    with self._graph.as_default():
      self._logits = tf.placeholder(tf.float32, [None, None])
      time_major = tf.expand_dims(self._logits, 1)
      self._decoded = greedy_ctc_decode(time_major, tf.shape(time_major)[:1])
    self._session = tf.Session(graph=self._graph)

  @property
  def num_classes(self):
    """V+1: the vocabulary and the CTC blank."""
    return len(self._idx2char) + 1

  def decode(self, logits):
    """The transcript of float32 ``logits`` ``[frames, V+1]``, the last class being the CTC blank."""
    return sparse_to_strings(self._session.run(self._decoded, {self._logits: logits}), self._idx2char, 1)[0]

  def close(self):
    self._session.close()


def manifest_transcripts(manifest):
  """``{wav_filename: transcript}`` of the manifest CSV ``manifest``."""
  return {row.wav_filename: row.transcript for row in read_manifests([manifest])}


def score(logits_dir, names, wav_filenames, manifest, idx2char):
  """``(predictions, word edits, reference words)`` over the utterances, reading ``<logits_dir>/<name>.bin``
  (float32 ``[frames, V+1]``, V = len(idx2char)).

  Raises ValueError when the manifest lacks one of ``wav_filenames``, IOError / ValueError when a logits file
  is missing or of the wrong size (bin_files.read_bin).
  """
  references = manifest_transcripts(manifest)
  absent = [w for w in wav_filenames if w not in references]
  if absent:
    raise ValueError("{}: no row for {} pre-processed utterance(s), e.g. {}".format(manifest, len(absent),
                                                                                    absent[0]))
  decoder = GreedyDecoder(idx2char)
  predictions, edits, words = [], 0, 0
  try:
    for name, wav_filename in zip(names, wav_filenames):
      logits = read_bin(os.path.join(logits_dir, name + ".bin"), LOGITS_DTYPE, [-1, decoder.num_classes])
      prediction = decoder.decode(logits)
      e, w = word_errors(references[wav_filename], prediction)
      predictions.append(prediction)
      edits += e
      words += w
  finally:
    decoder.close()
  return predictions, edits, words


def write_predictions(path, wav_filenames, predictions):
  """``wav_filename,predicted_transcript`` as run.py --mode=infer writes it."""
  with atomic_output(path) as tmp_file, open(tmp_file, "w", newline="", encoding="utf-8") as handle:
    writer = csv.writer(handle)
    writer.writerow(["wav_filename", "predicted_transcript"])
    writer.writerows(zip(wav_filenames, predictions))

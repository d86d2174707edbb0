"""Post-processing of online inference: per-utterance logits -> greedy CTC transcripts -> corpus WER against the
manifest.

Decoding and scoring are eval mode's own: greedy CTC over the valid frames (decoders/greedy_ctc.py, equal to
TensorFlow's greedy decoder), ids mapped through the vocabulary, and the corpus WER of utils/metrics.py.
"""
import os

from open_seq2seq.data.speech2text.manifest import read_transcripts
from open_seq2seq.decoders.greedy_ctc import greedy_transcript
from open_seq2seq.export.bin_files import LOGITS_DTYPE, read_bin
from open_seq2seq.utils.metrics import error_counts


def score(logits_dir, names, wav_filenames, manifest, idx2char):
  """``(predictions, word edits, reference words)`` over the utterances, reading ``<logits_dir>/<name>.bin``
  (float32 ``[frames, V+1]``, V = len(idx2char), the last class being the CTC blank).

  Raises ValueError when the manifest lacks one of ``wav_filenames`` or lists a file twice, IOError /
  ValueError when a logits file is missing or of the wrong size (bin_files.read_bin).
  """
  references = read_transcripts(manifest)
  absent = [w for w in wav_filenames if w not in references]
  if absent:
    raise ValueError("{}: no row for {} pre-processed utterance(s), e.g. {}".format(manifest, len(absent),
                                                                                    absent[0]))
  num_classes = len(idx2char) + 1
  predictions = [greedy_transcript(read_bin(os.path.join(logits_dir, name + ".bin"), LOGITS_DTYPE,
                                            [-1, num_classes]), idx2char)
                 for name in names]
  edits, words = error_counts([references[w] for w in wav_filenames], predictions, manifest)
  return predictions, edits, words

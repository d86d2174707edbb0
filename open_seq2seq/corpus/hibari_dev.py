"""``dev-hibari``: the dev sentences read by a neural voice that no training speaker uses.

dev-piper is read by the voice the corpus's Piper training speakers are made from, so it overstates how far
training on Piper carries to other synthesizers. This set is read by hibari's ``heart`` voice (the hibari-tts
package bundles it; Apache-2.0): an American female voice distilled from Kokoro-82M's ``af_heart``, with its
own English front end (a pronouncing lexicon and a learned spelling-to-sound model for unknown words, no
espeak-ng) and its own vocoder. Nothing in training comes from hibari or Kokoro, so this is the corpus's
unseen-synthesizer dev set. Each utterance is the voice at its own rate and timbre; its noise component is
drawn from a generator seeded per utterance (``[seed, index]``), so the set is byte-identical for a seed.

Written by the corpus builder in the importer's form (tts_dev_set.py): ``LibriSpeech/dev-hibari-wav/`` and
``librivox-dev-hibari.csv``.
"""
from open_seq2seq.corpus.errors import CorpusError
from open_seq2seq.corpus.librivox_import import manifest_name
from open_seq2seq.corpus.tts_dev_set import peak_normalized, write_tts_dev_set

SPLIT = "dev-hibari"
MANIFEST_NAME = manifest_name(SPLIT)
VOICE = "heart"
_INSTALL_HINT = "pip install hibari-tts (in requirements.txt)"


def new_voice():
  """hibari's bundled ``heart`` voice, run by onnxruntime on one thread. Raises CorpusError naming the package
  to install when it cannot be imported."""
  try:
    from hibari import Hibari
  except ImportError as e:
    raise CorpusError("dev-hibari needs hibari-tts ({}): {}".format(_INSTALL_HINT, e)) from e
  return Hibari(voice=VOICE, threads=1)


def check_available():
  """Raises CorpusError naming the package to install when hibari cannot be imported."""
  new_voice()


def build_hibari_dev(corpus_dir, transcripts, seed=0, log=print, progress=None):
  """Writes dev-hibari (``transcripts``, the dev sentences in order, read in lower case as written text)
  into ``corpus_dir`` unless its manifest exists; returns the number of utterances. ``progress``: a tqdm-like
  factory (total=...) or None.

  Raises CorpusError when hibari is not installed or renders silence.
  """
  def new_synthesizer():
    """Loads hibari's heart voice (the set is rendered) and returns its synthesize()."""
    voice = new_voice()

    def synthesize(index, transcript):
      """Float samples of utterance ``index`` and their sample rate."""
      # numpy's seed sequences take non-negative integers; the corpus seed may be negative
      audio = voice(transcript.lower(), seed=[seed % 2 ** 64, index])
      who = "{} utterance {}".format(SPLIT, index)
      return peak_normalized(audio, "hibari", who, transcript), voice.sample_rate
    return synthesize

  return write_tts_dev_set(corpus_dir, SPLIT, transcripts, new_synthesizer, log, progress)

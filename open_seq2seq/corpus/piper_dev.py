"""``dev-piper``: the dev sentences read by Piper's neural voice, a dev set of speech that espeak-ng did not make.

The espeak-ng dev sets (dev-clean, and dev-other's unseen variants and recording conditions) say little about
other synthesizers and human speech: espeak-only main-job models scored 45-46 % greedy on dev-other but
100.5-100.7 % on this set, as on the independent evaluation of issue 13. Each utterance is Piper's
``en_US-joe-medium`` at its own timbre and rate, with the voice's VITS noise on (its config's noise scales), unlike the
corpus's Piper training speakers (other rates and formant scales, noise off; piper_voice.py). The noise comes
from onnxruntime's generator, which advances with every synthesis: the set is rendered in one sequence from a
seeded session, always whole, so it is byte-identical for a given seed.

Written by the corpus builder in the importer's form (tts_dev_set.py): ``LibriSpeech/dev-piper-wav/`` and
``librivox-dev-piper.csv``.
"""
from open_seq2seq.corpus import piper_voice
from open_seq2seq.corpus.librivox_import import manifest_name
from open_seq2seq.corpus.tts_dev_set import write_tts_dev_set

SPLIT = "dev-piper"
MANIFEST_NAME = manifest_name(SPLIT)


def build_piper_dev(corpus_dir, transcripts, seed=0, log=print, progress=None):
  """Writes dev-piper (``transcripts``, the dev sentences in order) into ``corpus_dir`` unless its manifest
  exists; returns the number of utterances. ``progress``: a tqdm-like factory (total=...) or None.

  Raises CorpusError when Piper is not installed or renders nothing.
  """
  def new_synthesizer():
    """Loads the Piper voice, its noise generator seeded (the set is rendered) and returns its synthesize()."""
    from piper import SynthesisConfig
    voice = piper_voice.new_voice(noise_seed=seed)
    config = SynthesisConfig(length_scale=1.0)

    def synthesize(index, transcript):
      """Float samples of utterance ``index`` and their sample rate."""
      audio = piper_voice.render(voice, transcript, config, "{} utterance {}".format(SPLIT, index))
      return audio, voice.config.sample_rate
    return synthesize

  return write_tts_dev_set(corpus_dir, SPLIT, transcripts, new_synthesizer, log, progress)

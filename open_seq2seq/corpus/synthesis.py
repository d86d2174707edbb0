"""Synthesis of the mini corpus: espeak-ng (or Piper) | sox [voice transform, recording condition] -> FLAC, one
utterance at a time or many in parallel, the WORLD resyntheses in worker processes."""
import io
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import soundfile as sf

from open_seq2seq.corpus import piper_voice
from open_seq2seq.corpus import voices as corpus_voices
from open_seq2seq.corpus.errors import CorpusError
from open_seq2seq.corpus.espeak import espeak_command, espeak_text, voice_spec
from open_seq2seq.corpus.layout import DEV_OTHER_SPLIT, SAMPLE_RATE
from open_seq2seq.corpus.tools import run_pipeline
from open_seq2seq.utils.atomic import temp_path_for
from open_seq2seq.utils.parallel import bounded_parallel_map


def synthesize(tools, speaker, transcript, flac_path, utterance_index=0, world_pool=None):
  """espeak-ng (Piper for piper_voice speakers) | sox [voice transform, recording condition] -> 16 kHz 16-bit
  mono FLAC, written atomically.

  Training speakers get their timbre (corpus_voices.timbre_sox_effects and, for some, a WORLD
  resynthesis run in ``world_pool``); dev-other utterances get their recording condition
  (corpus_voices.proxy_condition of ``utterance_index``); dev and test speakers neither. ``tools``: as
  tools.find_tools returns. Raises CorpusError when a stage of the pipeline fails or sox writes nothing.
  """
  tmp = temp_path_for(flac_path)
  condition, condition_params = (corpus_voices.proxy_condition(speaker, utterance_index)
                                 if speaker["split"] == DEV_OTHER_SPLIT else (None, {}))
  commands, post = _pipeline(tools, speaker, condition, condition_params, tmp)
  try:
    if piper_voice.is_piper(speaker):
      wav = run_pipeline(commands, flac_path, input_bytes=piper_voice.synthesize_wav(speaker, transcript))
    else:
      wav = run_pipeline([espeak_command(tools["espeak-ng"], voice_spec(speaker), espeak_text(transcript),
                                         speaker["speed"], speaker["pitch"], speaker.get("word_gap", 0))]
                         + commands, flac_path)
    if post == "world":
      world_pool.submit(corpus_voices.world_wav_to_flac, wav, speaker["world"], tmp).result()
    elif post == "noise":
      signal, rate = sf.read(io.BytesIO(wav), dtype="float64")
      noise = corpus_voices.brown_noise(len(signal), np.random.default_rng(condition_params["seed"]))
      noisy = corpus_voices.add_noise_at_snr(signal, noise, condition_params["snr_db"])
      sf.write(tmp, noisy / max(1.0, np.max(np.abs(noisy)) / 0.99), rate, subtype="PCM_16", format="FLAC")
    if os.path.getsize(tmp) == 0:
      raise CorpusError("sox wrote an empty file for {}".format(flac_path))
    os.replace(tmp, flac_path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def _pipeline(tools, speaker, condition, condition_params, tmp):
  """(the sox commands after the synthesizer, reading its WAV on stdin; what finishes their WAV output:
  "world", "noise", or None when sox writes the FLAC ``tmp`` itself)."""
  sox = tools["sox"]
  commands = []
  effects = corpus_voices.timbre_sox_effects(speaker)
  effects += corpus_voices.proxy_sox_effects(condition, condition_params)
  to_16k = ["-r", str(SAMPLE_RATE), "-b", "16", "-c", "1"]
  post = None
  if condition == "phone":
    # GSM 06.10 full-rate codec at 8 kHz, decoded back to 16 kHz.
    commands.append([sox, "-R", "-V1", "-t", "wav", "-", "-r", "8000", "-c", "1", "-t", "gsm", "-"] + effects)
    commands.append([sox, "-R", "-V1", "-t", "gsm", "-r", "8000", "-c", "1", "-"] + to_16k + ["-t", "flac", tmp])
  elif condition == "noise" or "world" in speaker:
    commands.append([sox, "-R", "-V1", "-t", "wav", "-"] + to_16k + ["-t", "wav", "-"] + effects)
    post = "noise" if condition == "noise" else "world"
  else:
    commands.append([sox, "-R", "-V1", "-t", "wav", "-"] + to_16k + ["-t", "flac", tmp] + effects)
  return commands, post


def synthesize_all(tools, jobs, workers, progress_bar=None):
  """Runs synthesize for every ``(speaker, transcript, flac_path, utterance_index)`` of ``jobs``.

  ``workers`` pipelines run at once, and as many WORLD worker processes when a job needs one;
  ``progress_bar`` (tqdm-like) is advanced per utterance. The first CorpusError stops the rest and propagates.
  """
  # WORLD analysis holds the GIL: its resyntheses run in worker processes, started by spawn (fork+exec): a
  # forked worker would inherit whatever pipe a synthesis thread's Popen had open at that moment and keep
  # that Popen waiting for ever.
  world_pool = None
  if any("world" in job[0] for job in jobs):
    world_pool = ProcessPoolExecutor(max(1, workers), mp_context=multiprocessing.get_context("spawn"),
                                     initializer=corpus_voices.exit_with_parent)
  try:
    for _ in bounded_parallel_map(lambda job: synthesize(tools, *job, world_pool=world_pool), jobs, workers,
                                  progress_bar):
      pass
  finally:
    if world_pool is not None:
      world_pool.shutdown(cancel_futures=True)

"""espeak-ng: the command line of one rendering, the voices it knows, and the check that no speaker of the
grid silently fell back to another voice."""
import hashlib
import re
from concurrent.futures import ThreadPoolExecutor

from open_seq2seq.corpus.errors import CorpusError
from open_seq2seq.corpus.speakers import FORBIDDEN_VOICES
from open_seq2seq.corpus.tools import run_tool

# Rendered once per speaker (at default speed/pitch) to detect voices or
# variants that espeak-ng silently replaced by a fallback.
PROBE_SENTENCE = ("the quick brown fox jumps over the lazy dog while water "
                  "and dark clouds gather near our harbour.")


def espeak_text(transcript):
  """What is fed to espeak-ng: the lower-case transcript plus a period."""
  return transcript.lower() + "."


def espeak_command(espeak, voice_spec, text, speed=None, pitch=None, word_gap=0):
  """espeak-ng argument list writing the WAV of ``text`` to stdout.

  ``voice_spec``: ``VOICE+VARIANT``; ``speed``: words per minute (-s); ``pitch``: 0..99 (-p); ``word_gap``:
  pause between words in units of 10 ms (-g); None or 0 leaves espeak-ng's default.
  """
  cmd = [espeak, "-v", voice_spec]
  if speed is not None:
    cmd += ["-s", str(speed)]
  if pitch is not None:
    cmd += ["-p", str(pitch)]
  if word_gap:
    cmd += ["-g", str(word_gap)]
  return cmd + ["--stdout", text]


def voice_spec(speaker):
  """espeak-ng's ``-v`` argument of a speaker dict: ``VOICE+VARIANT``."""
  return "{}+{}".format(speaker["voice"], speaker["variant"])


def espeak_voice_names(espeak):
  """(languages, variants) that this espeak-ng knows about, as two sets of names.

  Raises CorpusError when espeak-ng cannot list them.
  """
  languages = set()
  for line in run_tool([espeak, "--voices=en"], "espeak-ng --voices=en").decode(
      "utf-8", "replace").splitlines()[1:]:
    fields = line.split()
    if len(fields) >= 2:
      languages.add(fields[1])
    languages.update(re.findall(r"\(([\w-]+) \d+\)", line))
  variants = set()
  for line in run_tool([espeak, "--voices=variant"],
                       "espeak-ng --voices=variant").decode(
                           "utf-8", "replace").splitlines()[1:]:
    fields = line.split()
    if len(fields) >= 5 and fields[4].startswith("!v/"):
      variants.add(fields[4][3:])
  return languages, variants


def render_wav_bytes(espeak, spec, text):
  """espeak-ng WAV (22.05 kHz) of ``text`` at default speed and pitch.

  Raises CorpusError when espeak-ng fails or writes no samples past the 44-byte header.
  """
  data = run_tool(espeak_command(espeak, spec, text),
                  "espeak-ng -v {}".format(spec))
  if len(data) <= 44:
    raise CorpusError("espeak-ng -v {} produced no audio".format(spec))
  return data


def check_speakers(speakers, espeak, workers=1):
  """Refuses voice grids in which espeak-ng silently fell back.

  Checks every voice and variant name against espeak-ng's own lists, then
  renders PROBE_SENTENCE once per speaker and once per bare voice (``workers``
  renderings at a time): two speakers with byte-identical audio, or a speaker
  identical to its bare voice (variant ignored), is an error. Raises CorpusError.
  """
  _check_names(speakers, espeak)
  specs = sorted({voice_spec(s) for s in speakers} |
                 {s["voice"] for s in speakers})
  with ThreadPoolExecutor(max(1, workers)) as pool:
    digests = dict(zip(specs, pool.map(
        lambda spec: hashlib.sha256(
            render_wav_bytes(espeak, spec, PROBE_SENTENCE)).hexdigest(),
        specs)))
  owner = {}
  # Training speakers may share a voice+variant (their timbres differ after synthesis); each espeak-ng
  # voice+variant must still sound unlike every other one.
  for s in {voice_spec(s): s for s in speakers}.values():
    spec = voice_spec(s)
    digest = digests[spec]
    if digest == digests[s["voice"]]:
      raise CorpusError(
          "espeak-ng ignores variant {!r} of voice {!r} (speaker {}): its "
          "audio is identical to the plain voice".format(
              s["variant"], s["voice"], s["speaker"]))
    if digest in owner:
      other = owner[digest]
      raise CorpusError(
          "speakers {} ({}) and {} ({}) render identically; espeak-ng "
          "silently fell back to another voice, or a voice+variant is used "
          "twice".format(other["speaker"], voice_spec(other), s["speaker"],
                         spec))
    owner[digest] = s


def _check_names(speakers, espeak):
  """CorpusError for a forbidden voice, or a voice or variant name this espeak-ng does not know."""
  languages, variants = espeak_voice_names(espeak)
  for s in speakers:
    if s["voice"] in FORBIDDEN_VOICES:
      raise CorpusError("voice {!r} ignores variants; use 'en' instead".format(
          s["voice"]))
    if s["voice"] not in languages:
      raise CorpusError("espeak-ng has no voice {!r}".format(s["voice"]))
    if s["variant"] not in variants:
      raise CorpusError("espeak-ng has no variant {!r}".format(s["variant"]))

"""What the transcribe tool reads: audio files, folders of them and CSV manifests, as a list of utterances.

An audio file given by name is read whatever its extension; a folder contributes every file under it (recursively,
sorted by path) whose extension is one of ``extensions``; a ``.csv`` file is a manifest in the importer's format
(``wav_filename,wav_filesize,transcript``, data/speech2text/manifest.py): its rows, in order, their paths resolved
as the data layer resolves them (relative to the CSV's folder), and their transcripts as references for a WER.
"""
import collections
import os

import soundfile as sf

from open_seq2seq.data.speech2text.manifest import read_csv, read_manifests, refuse_duplicates
from open_seq2seq.data.speech2text.preflight import MIN_SAMPLE_RATE

# libsndfile reads MP3 from version 1.1.0 on; older builds do not list it.
DEFAULT_EXTENSIONS = ("wav", "flac", "ogg") + (("mp3",) if "MP3" in sf.available_formats() else ())

Utterance = collections.namedtuple("Utterance", ["name", "path", "reference"])
Utterance.__doc__ = """``name``: the file as the outputs name it (a manifest's ``wav_filename`` as written, else the
path as found from the command line's argument); ``path``: the file to read; ``reference``: the manifest's
transcript, or None."""


def parse_extensions(text):
  """``"wav,.FLAC"`` -> ``("wav", "flac")``: lower case, without dots. Raises ValueError when none is given."""
  extensions = tuple(part.strip().lstrip(".").lower() for part in text.split(",") if part.strip().lstrip("."))
  if not extensions:
    raise ValueError("--extensions names no extension: {!r} (expected e.g. wav,flac)".format(text))
  return extensions


def is_manifest(path):
  """True for a ``.csv`` file: read as a manifest, not as audio."""
  return path.lower().endswith(".csv") and os.path.isfile(path)


def folder_audio(folder, extensions):
  """The files under ``folder`` (recursively, symlinked folders not followed) whose extension is one of
  ``extensions``, sorted by path, as paths that start with ``folder`` as given."""
  found = []
  for parent, folders, names in os.walk(folder):
    folders.sort()
    found.extend(os.path.join(parent, name) for name in names
                 if os.path.splitext(name)[1][1:].lower() in extensions)
  return sorted(found)


def manifest_utterances(path, dataset_root=None):
  """The rows of the manifest ``path`` as Utterances (references: its transcripts, None without a transcript
  column), relative paths resolved against ``dataset_root`` or else the manifest's folder, as the data layer
  resolves them. Raises ValueError naming the file (and row) for a malformed manifest or a file listed twice."""
  header, _ = read_csv(path)
  rows = read_manifests([path], dataset_root, need_transcripts=False)
  refuse_duplicates(rows)
  with_references = header is not None and "transcript" in header
  return [Utterance(row.wav_filename, row.path, row.transcript if with_references else None) for row in rows]


def collect_inputs(arguments, extensions, dataset_root=None):
  """``(utterances, notes)``: the Utterances of the command line's input ``arguments`` (files, folders, manifests,
  whose relative paths start from ``dataset_root`` when given: the config's data_layer_params), in their order,
  each file once (a file named again is left out, and a note says how many were); ``notes``: lines for the user.
  Raises ValueError for an input that does not exist, a folder without audio of ``extensions`` and a malformed
  manifest."""
  utterances, seen, repeated = [], set(), 0
  for argument in arguments:
    if os.path.isdir(argument):
      found = [Utterance(path, path, None) for path in folder_audio(argument, extensions)]
      if not found:
        raise ValueError("{}: no audio files with the extensions {} under this folder (see --extensions)".format(
            argument, ",".join(extensions)))
    elif is_manifest(argument):
      found = manifest_utterances(argument, dataset_root)
    elif os.path.lexists(argument):
      found = [Utterance(argument, argument, None)]
    else:
      raise ValueError("{}: no such file or folder".format(argument))
    for utterance in found:
      key = os.path.realpath(utterance.path)
      if key in seen:
        repeated += 1
        continue
      seen.add(key)
      utterances.append(utterance)
  notes = ["{} file(s) named more than once are transcribed once".format(repeated)] if repeated else []
  return utterances, notes


def header_problem(header):
  """Why an audio file whose preflight.probe_audio header is ``header`` cannot be transcribed, or None."""
  if header.reason is not None:
    return {"missing": "not found"}.get(header.reason, "{} ({})".format(header.reason, header.detail))
  if header.rate < MIN_SAMPLE_RATE:
    return "its header claims a sample rate of {} Hz, under {} Hz: a damaged header?".format(header.rate,
                                                                                          MIN_SAMPLE_RATE)
  return None

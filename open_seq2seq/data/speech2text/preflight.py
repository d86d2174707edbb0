"""Pre-flight scan of the audio a manifest lists: every file's header (and its last frame) is checked when the
data layer is built, so a bad file is reported with all the others before any step runs, not hours into
training. Results are cached per manifest in ``<manifest>.audio_scan.json``, keyed by file path, size and
modification time; a damaged or foreign cache file is ignored and rebuilt.
"""
import collections
import contextlib
import json
import os
import struct
import sys
import threading
import time

import soundfile as sf

from open_seq2seq.utils.atomic import atomic_output
from open_seq2seq.utils.logging import deco_print
from open_seq2seq.utils.parallel import bounded_parallel_map

CACHE_SUFFIX = ".audio_scan.json"
CACHE_VERSION = 1
# Reasons a row is dropped, in report order; the last two are duration filters, not bad data.
REASONS = ("missing", "unreadable", "empty", "truncated", "sample_rate", "channels", "too_long", "too_short")
BAD_AUDIO = REASONS[:6]
MAX_LISTED = 20

AudioHeader = collections.namedtuple("AudioHeader", ["frames", "rate", "channels", "reason", "detail"])


def _riff_data_shortfall(path, file_size):
  """Bytes the data chunk of a RIFF/WAVE file declares beyond the end of the file (0 when complete or not
  RIFF). libsndfile silently reads a cut WAV as a shorter one, so the header is compared with the size."""
  with open(path, "rb") as handle:
    head = handle.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
      return 0
    offset = 12
    for _ in range(64):
      chunk = handle.read(8)
      if len(chunk) < 8:
        return 0
      chunk_id, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
      offset += 8
      if chunk_id == b"data":
        # Streaming writers that cannot seek back leave 0 or 0xFFFFFFFF: the size is unknown, not wrong.
        return 0 if size in (0, 0xFFFFFFFF) else max(0, size - (file_size - offset))
      offset += size + (size & 1)
      handle.seek(offset)
  return 0


def _why(error):
  """libsndfile's reason without its "Error opening 'path':" prefix."""
  text = str(error)
  return text.split("': ", 1)[1] if text.startswith("Error opening '") and "': " in text else text


def probe_audio(path):
  """``AudioHeader`` of one file: frames per channel, sample rate (Hz), channels, and ``reason``/``detail``
  (None for a readable file, else one of 'missing', 'unreadable', 'empty', 'truncated')."""
  if not os.path.isfile(path):
    return AudioHeader(0, 0, 0, "missing", "not found")
  try:
    info = sf.info(path)
  except (RuntimeError, OSError) as error:
    return AudioHeader(0, 0, 0, "unreadable", _why(error))
  if info.frames <= 0:
    return AudioHeader(0, info.samplerate, info.channels, "empty", "0 samples")
  try:
    shortfall = _riff_data_shortfall(path, os.path.getsize(path))
    if shortfall:
      raise OSError("the header declares {} bytes of samples more than the file holds".format(shortfall))
    # Reading the last frame finds a compressed file (FLAC) cut after its header, at the cost of one block.
    with sf.SoundFile(path) as handle:
      handle.seek(info.frames - 1)
      if len(handle.read(1, dtype="int16")) != 1:
        raise OSError("the last of its {} frames cannot be read".format(info.frames))
  except (RuntimeError, OSError) as error:
    return AudioHeader(info.frames, info.samplerate, info.channels, "truncated", _why(error))
  return AudioHeader(info.frames, info.samplerate, info.channels, None, None)


class ScanCache:
  """The probes of one manifest's files, ``{path: [size, mtime_ns, frames, rate, channels, reason, detail]}``."""

  def __init__(self, manifest):
    self.path = manifest + CACHE_SUFFIX
    self._entries = {}
    self._changed = False
    try:
      with open(self.path, encoding="utf-8") as handle:
        stored = json.load(handle)
      if stored.get("version") == CACHE_VERSION and isinstance(stored.get("files"), dict):
        self._entries = stored["files"]
    except (OSError, ValueError, AttributeError):
      pass  # absent, unreadable or damaged: scanned again and rewritten

  def get(self, path, stat):
    entry = self._entries.get(path)
    if not isinstance(entry, list) or len(entry) != 7 or entry[:2] != [stat.st_size, stat.st_mtime_ns]:
      return None
    try:
      return AudioHeader(int(entry[2]), int(entry[3]), int(entry[4]), entry[5], entry[6])
    except (TypeError, ValueError):
      return None

  def put(self, path, stat, header):
    self._entries[path] = [stat.st_size, stat.st_mtime_ns] + list(header)
    self._changed = True

  def save(self):
    """Writes the cache atomically; a folder that cannot be written only costs the next run a rescan."""
    if not self._changed:
      return
    try:
      with atomic_output(self.path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        json.dump({"version": CACHE_VERSION, "files": self._entries}, handle)
    except OSError as error:
      deco_print("Warning: audio scan cache {} not written ({}); the next run scans again".format(self.path, error))


@contextlib.contextmanager
def _quiet_stderr():
  """Silences file descriptor 2: libsndfile's MPEG decoder prints 'Note: ...' lines straight to it while it
  probes a file of random bytes, and the scan reports every bad file itself."""
  sys.stderr.flush()
  saved = os.dup(2)
  try:
    with open(os.devnull, "w") as devnull:
      os.dup2(devnull.fileno(), 2)
    yield
  finally:
    os.dup2(saved, 2)
    os.close(saved)


def scan_audio(rows, workers=None):
  """``AudioHeader`` of every ``ManifestRow`` (same order), probed in parallel and cached per manifest."""
  start = time.time()
  caches = {csv_file: ScanCache(csv_file) for csv_file in {row.csv_file for row in rows}}
  headers, jobs = [None] * len(rows), []
  for index, row in enumerate(rows):
    path = os.path.abspath(row.path)
    try:
      stat = os.stat(path)
    except OSError:
      headers[index] = AudioHeader(0, 0, 0, "missing", "not found")
      continue
    headers[index] = caches[row.csv_file].get(path, stat)
    if headers[index] is None:
      jobs.append((index, path, stat))

  def probe(job):
    return job, probe_audio(job[1])

  with _quiet_stderr():
    for (index, path, stat), header in bounded_parallel_map(probe, jobs, workers or min(32, 4 * (os.cpu_count() or 1))):
      headers[index] = header
      caches[rows[index].csv_file].put(path, stat, header)
  for cache in caches.values():
    cache.save()
  seconds = time.time() - start
  deco_print("Audio scan: {} files in {:.1f} s ({} from the cache)".format(len(rows), seconds, len(rows) - len(jobs)))
  return headers


def row_problem(row, header, params):
  """``(reason, message)`` when ``row`` must be dropped under the data layer's ``params``, else None."""
  where = "({} row {})".format(row.csv_file, row.row_number)
  reason = header.reason
  if reason == "missing":
    return reason, "Audio file not found: {} {}".format(row.path, where)
  if reason == "unreadable":
    return reason, "Cannot read audio file {}: {} {}".format(row.path, header.detail, where)
  if reason in ("empty", "truncated"):
    return reason, "Audio file {} is {}: {} {}".format(row.path, reason, header.detail, where)
  if header.rate != params["sample_freq"] and not params["resample_audio"]:
    return "sample_rate", "Audio file {} has sample rate {} Hz, expected sample_freq={} Hz (or set " \
        "resample_audio=True) {}".format(row.path, header.rate, params["sample_freq"], where)
  if header.channels > 1 and not params["mix_to_mono"]:
    return "channels", "Audio file {} has {} channels, expected mono (or set mix_to_mono=True) {}".format(
        row.path, header.channels, where)
  seconds = header.frames / float(header.rate)
  if 0 < params["max_duration"] < seconds:
    return "too_long", "{} lasts {:.2f} s, over max_duration={} s {}".format(row.path, seconds, params["max_duration"],
                                                                            where)
  if seconds < params["min_duration"]:
    return "too_short", "{} lasts {:.2f} s, under min_duration={} s {}".format(row.path, seconds,
                                                                              params["min_duration"], where)
  return None


def format_counts(counts):
  """``'unreadable 3, too_long 1'`` in REASONS order (other keys after)."""
  keys = [key for key in REASONS if counts.get(key)] + sorted(key for key in counts if key not in REASONS)
  return ", ".join("{} {}".format(key, counts[key]) for key in keys if counts[key])


def usable_audio(rows, params, skip_bad_data):
  """Scans the audio of ``rows`` and applies ``max_duration``/``min_duration`` from the headers.

  Returns ``(kept rows, samples per kept row at sample_freq, bad-audio messages, Counter of reasons)``.
  Raises ValueError naming the manifest(s) when a file is bad and ``skip_bad_data`` is off, after listing every
  bad row (up to MAX_LISTED) and the counts per reason.
  """
  kept, num_samples, dropped, counts = [], [], [], collections.Counter()
  for row, header in zip(rows, scan_audio(rows)):
    problem = row_problem(row, header, params)
    if problem is None:
      kept.append(row)
      num_samples.append(header.frames * params["sample_freq"] // header.rate)
    else:
      counts[problem[0]] += 1
      dropped.append(problem)
  bad = [message for reason, message in dropped if reason in BAD_AUDIO]
  manifests = ", ".join(params["dataset_files"])
  if bad and not skip_bad_data:
    if len(bad) > 1:
      list_problems(bad)
    raise ValueError("{}; {} of {} rows of {} have unusable audio ({}){}: fix them or set skip_bad_data=True".format(
        bad[0], len(bad), len(rows), manifests, format_counts({k: counts[k] for k in BAD_AUDIO}),
        ", listed above" if len(bad) > 1 else ""))
  filtered = [message for reason, message in dropped if reason not in BAD_AUDIO]
  if filtered:
    deco_print("max_duration={} / min_duration={} drop {} of {} utterances of {} ({})".format(
        params["max_duration"], params["min_duration"], len(filtered), len(rows), manifests,
        format_counts({k: counts[k] for k in REASONS[6:]})))
    if not kept:
      list_problems(filtered)
  return kept, num_samples, bad, counts


def static_limits(rows, labels, frame_counts, params):
  """``(rows, labels)`` without the rows whose feature frames (``frame_counts``, from the headers) or label length
  exceed ``max_feature_length`` / ``max_label_length`` (static-shape mode). Raises ValueError when none is left
  or when combined with length buckets."""
  if params.get("length_bucket_boundaries"):
    raise ValueError("Speech2TextDataLayer: length_bucket_boundaries cannot be combined with static shapes "
                     "(max_feature_length / max_label_length)")
  max_frames, max_labels = params.get("max_feature_length", -1), params.get("max_label_length", -1)
  keep = [i for i in range(len(rows)) if not (0 < max_frames < frame_counts[i] or (
      labels is not None and 0 < max_labels < len(labels[i])))]
  deco_print("Static shapes (max_feature_length={}, max_label_length={}) drop {} of {} utterances of {}".format(
      max_frames, max_labels, len(rows) - len(keep), len(rows), ", ".join(params["dataset_files"])))
  if not keep:
    raise ValueError("max_feature_length={} / max_label_length={} leave no utterance of {}".format(
        max_frames, max_labels, ", ".join(params["dataset_files"])))
  return [rows[i] for i in keep], None if labels is None else [labels[i] for i in keep]


def list_problems(messages):
  """Prints one line per message, the first MAX_LISTED of them."""
  for message in messages[:MAX_LISTED]:
    deco_print(message, offset=2)
  if len(messages) > MAX_LISTED:
    deco_print("... and {} more".format(len(messages) - MAX_LISTED), offset=2)


def runtime_drop_reason(num_frames, duration, params):
  """Why an utterance read as ``num_frames`` feature frames lasting ``duration`` s (after speed perturbation,
  which can move it past the limits the scan checked) is dropped from the stream, or None."""
  if num_frames == 0:
    return "empty"
  if 0 < params["max_duration"] < duration:
    return "too_long"
  if duration < params["min_duration"]:
    return "too_short"
  if 0 < params.get("max_feature_length", -1) < num_frames:
    return "over_max_feature_length"
  return None


class RuntimeDrops:
  """Counts the utterances dropped while the stream is read and ends a stream that yields nothing any more: a
  repeated training stream whose every element is filtered out would otherwise spin forever."""

  def __init__(self, dataset_files):
    self._dataset_files = dataset_files
    self._lock = threading.Lock()
    self._consecutive = 0
    self.counts = collections.Counter()

  def note(self, reason, num_rows):
    """Records one read (``reason`` None: kept). Raises ValueError after three passes' worth of reads of a
    ``num_rows``-row set in a row were all dropped."""
    with self._lock:
      if reason is None:
        self._consecutive = 0
        return
      self.counts[reason] += 1
      self._consecutive += 1
      if self._consecutive > 3 * num_rows + 16:
        raise ValueError("No utterance of {} survived its filters in the last {} reads ({}): check the audio and "
                         "max_duration / min_duration / max_feature_length against speed_perturbation_ratio".format(
                             ", ".join(self._dataset_files), self._consecutive, format_counts(self.counts)))

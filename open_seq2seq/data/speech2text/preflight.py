"""Pre-flight scan of the audio a manifest lists: every file's header (and its last frame) is checked when the
data layer is built, so a bad file is reported with all the others before any step runs, not hours into
training. Results are cached per manifest in ``<manifest>.audio_scan.json``, keyed by file path, size and
modification time; a damaged or foreign cache file is ignored and rebuilt.
"""
import collections
import contextlib
import errno
import json
import os
import stat
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
PROBE_REASONS = (None,) + REASONS[:4]
MAX_LISTED = 20
# Hz; no speech recording has fewer, and resampling a header that claims 1 Hz makes hours of audio.
MIN_SAMPLE_RATE = 1000
# libsndfile's frame count of a stream whose end it cannot find (SF_COUNT_MAX).
UNKNOWN_LENGTH = 2 ** 63 - 1

AudioHeader = collections.namedtuple("AudioHeader", ["frames", "rate", "channels", "reason", "detail"])


def _riff_problem(path, file_size):
  """What is wrong with the data chunk of a RIFF/WAVE file, or None (also for other formats). libsndfile
  silently reads a cut WAV, or one whose data size is too small, as a shorter one, so the declared size is
  compared with the file: it may not run past the end, and what follows it must look like another chunk."""
  with open(path, "rb") as handle:
    head = handle.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
      return None
    offset = 12
    for _ in range(64):
      chunk = handle.read(8)
      if len(chunk) < 8:
        return None
      chunk_id, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
      offset += 8
      if chunk_id == b"data":
        # Streaming writers that cannot seek back leave 0 or 0xFFFFFFFF: the size is unknown, not wrong.
        if size in (0, 0xFFFFFFFF):
          return None
        if size > file_size - offset:
          return "the header declares {} bytes of samples more than the file holds".format(size - (file_size - offset))
        handle.seek(offset + size + (size & 1))
        return _stray_bytes(handle.read(8), size, file_size - offset - size)
      offset += size + (size & 1)
      handle.seek(offset)
  return None


def _stray_bytes(following, size, remaining):
  """The problem when the 8 bytes ``following`` a data chunk of ``size`` bytes are neither another chunk's
  header (a printable id) nor zero padding: samples past a data size written too small."""
  if len(following) < 8 or following[:4] == bytes(4) or all(32 <= byte < 127 for byte in following[:4]):
    return None
  return "its data chunk declares {} bytes of samples, but {} more bytes follow that are no RIFF chunk (a wrong " \
      "data size?)".format(size, remaining)


def _not_a_regular_file(path):
  """``AudioHeader`` of a path that is no regular file: 'missing' when nothing is there, else 'unreadable'
  naming what is (a directory, a symlink loop, a FIFO, ...); None for a regular file."""
  try:
    mode = os.stat(path).st_mode
  except OSError as error:
    if error.errno == errno.ENOENT:
      return AudioHeader(0, 0, 0, "missing", "not found")
    return AudioHeader(0, 0, 0, "unreadable", error.strerror or str(error))
  if stat.S_ISREG(mode):
    return None
  kind = "a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "a socket" \
      if stat.S_ISSOCK(mode) else "a device"
  return AudioHeader(0, 0, 0, "unreadable", "it is {}, not a regular file".format(kind))


def _why(error):
  """libsndfile's reason without its "Error opening 'path':" prefix."""
  text = str(error)
  return text.split("': ", 1)[1] if text.startswith("Error opening '") and "': " in text else text


def probe_audio(path):
  """``AudioHeader`` of one file: frames per channel, sample rate (Hz), channels, and ``reason``/``detail``
  (None for a readable file, else one of 'missing', 'unreadable', 'empty', 'truncated')."""
  not_a_file = _not_a_regular_file(path)
  if not_a_file:
    return not_a_file
  try:
    info = sf.info(path)
  except (RuntimeError, OSError) as error:
    return AudioHeader(0, 0, 0, "unreadable", _why(error))
  if info.frames <= 0:
    return AudioHeader(0, info.samplerate, info.channels, "empty", "0 samples")
  if info.frames >= UNKNOWN_LENGTH:
    return AudioHeader(0, info.samplerate, info.channels, "truncated",
                       "its length is unknown (an Ogg stream whose last page is missing?)")
  try:
    riff_problem = _riff_problem(path, os.path.getsize(path))
    if riff_problem:
      raise OSError(riff_problem)
    # Reading the last frame finds a compressed file (FLAC) cut after its header, at the cost of one block.
    # Codecs libsndfile cannot seek in (GSM 6.10, G.72x, some ADPCM) are left to the read itself.
    with sf.SoundFile(path) as handle:
      if handle.seekable():
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

  def get(self, path, status):
    """The cached header of ``path`` if ``status`` (its os.stat) still matches and the entry is one a probe
    can give (an edited or damaged entry is probed again rather than trusted), else None."""
    entry = self._entries.get(path)
    if not isinstance(entry, list) or len(entry) != 7 or entry[:2] != [status.st_size, status.st_mtime_ns]:
      return None
    header = AudioHeader(*entry[2:])
    if not all(isinstance(value, int) and value >= 0 for value in header[:3]) or header.reason not in PROBE_REASONS:
      return None
    if header.reason is None and (header.frames < 1 or header.rate < 1 or header.channels < 1):
      return None
    return header

  def put(self, path, status, header):
    """Records ``header`` as the entry of ``path`` with its ``status`` (size and mtime) and marks the cache changed."""
    self._entries[path] = [status.st_size, status.st_mtime_ns] + list(header)
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


def probe_all(paths, workers=None):
  """``probe_audio`` of every path (a list; same order), probed in parallel by ``workers`` threads (default: 4 per
  core, at most 32), with libsndfile's own notes about undecodable files kept off stderr."""
  headers = [None] * len(paths)

  def probe(index):
    """``(index, probe_audio(paths[index]))``."""
    return index, probe_audio(paths[index])

  with _quiet_stderr():
    for index, header in bounded_parallel_map(probe, range(len(paths)), workers or min(32, 4 * (os.cpu_count() or 1))):
      headers[index] = header
  return headers


def scan_audio(rows, workers=None):
  """``AudioHeader`` of every ``ManifestRow`` (same order), probed in parallel and cached per manifest."""
  start = time.time()
  caches = {csv_file: ScanCache(csv_file) for csv_file in {row.csv_file for row in rows}}
  headers, jobs = [None] * len(rows), []
  for index, row in enumerate(rows):
    path = os.path.abspath(row.path)
    try:
      status = os.stat(path)
    except OSError:
      headers[index] = _not_a_regular_file(path)
      continue
    headers[index] = caches[row.csv_file].get(path, status)
    if headers[index] is None:
      jobs.append((index, path, status))

  for (index, path, status), header in zip(jobs, probe_all([job[1] for job in jobs], workers)):
    headers[index] = header
    caches[rows[index].csv_file].put(path, status, header)
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
  if header.rate < MIN_SAMPLE_RATE:
    return "sample_rate", "Audio file {} has sample rate {} Hz, under {} Hz: a damaged header? {}".format(
        row.path, header.rate, MIN_SAMPLE_RATE, where)
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
  if params["length_bucket_boundaries"]:
    raise ValueError("Speech2TextDataLayer: length_bucket_boundaries cannot be combined with static shapes "
                     "(max_feature_length / max_label_length)")
  max_frames, max_labels = params["max_feature_length"], params["max_label_length"]
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
  if 0 < params["max_feature_length"] < num_frames:
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

"""Console output in OpenSeq2Seq's format (every message prefixed with ``*** ``)."""
import sys


def deco_print(line, offset=0, start="*** ", end="\n", stream=None):
  """Prints ``line`` with the OpenSeq2Seq prefix, indented by ``offset`` spaces after it."""
  stream = stream or sys.stdout
  stream.write(start + " " * offset + str(line) + end)
  stream.flush()


def format_duration(seconds):
  """H:MM:SS for progress lines (hours are not zero-padded and may exceed 24)."""
  seconds = max(0, int(round(seconds)))
  hours, rest = divmod(seconds, 3600)
  minutes, secs = divmod(rest, 60)
  return "{}:{:02d}:{:02d}".format(hours, minutes, secs)

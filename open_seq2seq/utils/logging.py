"""Console output in OpenSeq2Seq's format (every message prefixed with ``*** ``)."""
import sys


_console = {"enabled": True}


def set_console_output(enabled):
  """Turns deco_print on or off for this process (workers other than rank 0 run quietly)."""
  _console["enabled"] = enabled


def deco_print(line, offset=0, start="*** ", end="\n", stream=None):
  """Prints ``line`` with the OpenSeq2Seq prefix, indented by ``offset`` spaces after it."""
  if not _console["enabled"]:
    return
  stream = stream or sys.stdout
  stream.write(start + " " * offset + str(line) + end)
  stream.flush()


def format_duration(seconds):
  """H:MM:SS for progress lines (hours are not zero-padded and may exceed 24)."""
  seconds = max(0, int(round(seconds)))
  hours, rest = divmod(seconds, 3600)
  minutes, secs = divmod(rest, 60)
  return "{}:{:02d}:{:02d}".format(hours, minutes, secs)

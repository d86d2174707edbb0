"""How the toolkit's command-line tools end on bad input: one line on stderr and an exit status, no traceback.

A tool's ``main(argv=None)`` returns its exit status and raises on bad input (so tests and callers see the
exception); ``one_line_errors`` turns it into the entry point of the console script and of the shim under
scripts/, generate_pb/ or online_inference/. Exceptions it is not told about are bugs and keep their traceback.
"""
import argparse
import functools
import sys

# The exit status of a process the shell saw end by SIGINT (128 + 2): scripts tell "interrupted" from "failed".
INTERRUPTED_STATUS = 130


class ArgumentParser(argparse.ArgumentParser):
  """Reports a bad command line as a ValueError, so it ends in the tool's one error line like other bad input
  instead of argparse's usage dump (exit status 1, not 2)."""

  def error(self, message):
    """Raises ValueError with ``message``."""
    raise ValueError("{} (see --help)".format(message))


def one_line_errors(errors=(ValueError, OSError), prefix="*** Error: ", interrupted=None):
  """Decorator for a tool's ``main(argv=None)``: the decorated function returns main's exit status, or 1 after
  writing ``<prefix><error>`` as one line to stderr when main raises one of ``errors`` (a tuple of exception
  classes). With ``interrupted`` (a message), Ctrl-C writes that line instead of a traceback and returns 130.
  """

  def decorate(main):
    """Wraps ``main``."""

    @functools.wraps(main)
    def entry(argv=None):
      """Runs ``main(argv)``; returns its status, 1 on one of ``errors``, or 130 on Ctrl-C with ``interrupted``."""
      try:
        return main(argv)
      except errors as error:
        sys.stderr.write("{}{}\n".format(prefix, error))
        return 1
      except KeyboardInterrupt:
        if interrupted is None:
          raise
        sys.stderr.write(interrupted + "\n")
        return INTERRUPTED_STATUS

    return entry

  return decorate


def positive_int(text):
  """An argparse type for counts and sizes: the integer ``text``; ArgumentTypeError below 1."""
  value = int(text)
  if value < 1:
    raise argparse.ArgumentTypeError("expected a positive integer, got {}".format(text))
  return value

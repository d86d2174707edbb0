"""The external programs of the corpus builder (espeak-ng, sox): finding them and running them without a shell."""
import os
import shutil
import subprocess
import threading

from open_seq2seq.corpus.errors import CorpusError


def find_tools():
  """Paths of espeak-ng and sox, as ``{"espeak-ng": path, "sox": path}``.

  Raises CorpusError naming the missing program and the package that installs it.
  """
  tools = {}
  hints = {"espeak-ng": "apt-get install espeak-ng",
           "sox": "apt-get install sox libsox-fmt-all"}
  for name, hint in hints.items():
    path = shutil.which(name)
    if path is None:
      raise CorpusError("'{}' was not found on PATH; install it ({})".format(
          name, hint))
    tools[name] = path
  return tools


def run_tool(cmd, what):
  """Runs ``cmd`` (an argument list) and returns its stdout bytes.

  Raises CorpusError, named by ``what``, when it cannot start or exits non-zero (with what it printed on stderr).
  """
  try:
    result = subprocess.run(cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, check=False)
  except OSError as e:
    raise CorpusError("cannot run {}: {}".format(what, e)) from e
  if result.returncode != 0:
    raise CorpusError("{} failed (exit {}): {}".format(
        what, result.returncode,
        result.stderr.decode("utf-8", "replace").strip()))
  return result.stdout


def run_pipeline(commands, what, input_bytes=None):
  """Runs ``commands`` (argument lists) as a shell-less pipeline; returns the last one's stdout bytes.

  ``input_bytes``: what the first command reads on stdin (None: nothing). Raises CorpusError naming ``what``,
  the stage that failed and what it printed.
  """
  processes = []
  feeder = None
  try:
    for cmd in commands:
      if processes:
        stdin = processes[-1].stdout
      else:
        stdin = subprocess.DEVNULL if input_bytes is None else subprocess.PIPE
      processes.append(subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE))
      if processes[:-1]:
        stdin.close()
  except OSError as e:
    for process in processes:
      process.kill()
    raise CorpusError("cannot run {}: {}".format(what, e)) from e
  if input_bytes is not None and len(processes) > 1:
    # Written from a thread: a stage that fills its output pipe before reading all of its input would
    # otherwise wait for ever on this writer.
    feeder = threading.Thread(target=_feed, args=(processes[0].stdin, input_bytes), daemon=True)
    feeder.start()
  output, last_err = processes[-1].communicate(input_bytes if feeder is None else None)
  if feeder is not None:
    feeder.join()
  for process in processes:
    err = last_err if process is processes[-1] else process.stderr.read()
    process.stderr.close()
    process.wait()
    if process.returncode != 0:
      raise CorpusError("{} failed for {} (exit {}): {}".format(
          os.path.basename(process.args[0]), what, process.returncode,
          err.decode("utf-8", "replace").strip()))
  return output


def _feed(pipe, data):
  """Writes ``data`` to ``pipe`` and closes it; a reader that exits early (its error is reported by
  run_pipeline) only ends the write."""
  try:
    pipe.write(data)
  except (BrokenPipeError, ValueError):
    pass
  finally:
    try:
      pipe.close()
    except BrokenPipeError:
      pass

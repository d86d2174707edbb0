"""Performance summary of a training log, in the reference CI's format (ModelZoo test/train_performance_*.sh).

Reads the progress lines that training prints (open_seq2seq/training/hooks.py ProgressHook)::

  *** global_step:    100, loss: 266.881, mean_loss: 309.328,  FPS:   134.1 utt/s, elapsed: 0:00:12, ETA: 0:00:00

where FPS is utterances per second of ONE process (batch_size_per_gpu * iter_size per step) over the steps
since the previous line. Under horovodrun every line carries a ``[rank]<stdout>:`` prefix (``[1,rank]`` with
mpirun); only one rank's lines are used (rank 0 unless told otherwise), and its FPS is multiplied by the
number of ranks for the global figure, as the reference does.

Prints ``Final Performance images/sec``, ``E2E Training Duration sec``, ``ActualLoss`` and ``TrainingTime``
(ms per step), and writes into --output_dir ``<CaseName>.log`` (Network, RankSize, BatchSize, DeviceType,
CaseName, ActualFPS, ActualLoss, TrainingTime, E2ETrainingTime) and ``train_<CaseName>_loss.txt`` (the loss
of every progress line, one per line).
"""
import argparse
import collections
import os
import platform
import re

from open_seq2seq.utils.cli import one_line_errors

DEFAULT_NETWORK = "Jasper_ID0020_for_TensorFlow"
_RANK_PREFIX = re.compile(r"^\[(?:\d+,)?(\d+)\]<std(?:out|err)>:")
_STEP = re.compile(r"global_step:\s*(\d+)")
# A field is the text after its label up to the next blank, commas removed (as the reference's tr -d ',').
# "\b" keeps "mean_loss:" out of "loss:": "_" is a word character, so there is no boundary inside it.
_LOSS = re.compile(r"\bloss:\s*(\S+)")
_MEAN_LOSS = re.compile(r"\bmean_loss:\s*(\S+)")
_FPS = re.compile(r"\bFPS:\s*(\S+)")
_BATCH = re.compile(r"'batch_size_per_gpu':\s*(\d+)")
_ITER_SIZE = re.compile(r"'iter_size':\s*(\d+)")

ProgressLine = collections.namedtuple("ProgressLine", "step loss_text loss mean_loss fps")


class LogError(ValueError):
  """The log does not hold what a summary needs (no progress line, no timed step, ...)."""


def split_rank_prefix(line):
  """``(rank, rest)`` for a line with horovodrun's ``[r]<stdout>:`` prefix, ``(None, line)`` without one."""
  match = _RANK_PREFIX.match(line)
  if match is None:
    return None, line
  return int(match.group(1)), line[match.end():]


def lines_by_rank(text):
  """``{rank: [lines]}``; the lines without a rank prefix (a one-process log, an Ascend rank's own log, or the
  launch script's own lines around horovodrun's) under None."""
  by_rank = collections.defaultdict(list)
  for line in text.splitlines():
    line_rank, rest = split_rank_prefix(line)
    by_rank[line_rank].append(rest)
  return by_rank


def _progress_lines(lines):
  progress = []
  for line in lines:
    step = _STEP.search(line)
    loss = _LOSS.search(line)
    fps = _FPS.search(line)
    if not (step and loss and fps):
      continue
    mean_loss = _MEAN_LOSS.search(line)
    loss_text = _field(loss)
    try:
      progress.append(ProgressLine(step=int(step.group(1)), loss_text=loss_text, loss=float(loss_text),
                                   mean_loss=float(_field(mean_loss)) if mean_loss else None,
                                   fps=float(_field(fps))))
    except ValueError:
      continue  # not a progress line after all (a sample transcript quoting these words, say)
  return progress


def parse_progress(text, rank=None):
  """Every ``global_step:`` progress line of one process, in log order: of ``rank`` when given, else of the
  unprefixed lines when they have any, else of the lowest rank that has any (rank 0 of a horovodrun log)."""
  by_rank = lines_by_rank(text)
  if rank is not None:
    return _progress_lines(by_rank.get(rank, []))
  candidates = [None] + sorted(r for r in by_rank if r is not None)
  for candidate in candidates:
    progress = _progress_lines(by_rank.get(candidate, []))
    if progress:
      return progress
  return []


def _field(match):
  return match.group(1).replace(",", "")


def parse_batch_size(text):
  """``(batch_size_per_gpu, iter_size)`` from the config run.py prints at start; None when absent."""
  batch = _BATCH.search(text)
  if batch is None:
    return None
  iter_size = _ITER_SIZE.search(text)
  return int(batch.group(1)), int(iter_size.group(1)) if iter_size else 1


def last_fps(progress, rank_size=1):
  """The reference's figure: FPS of the last progress line times the number of ranks."""
  if not progress:
    raise LogError("no 'global_step:' progress line in the log (did training run at least print_loss_steps "
                   "steps?)")
  if progress[-1].fps <= 0:
    raise LogError("the last progress line (step {}) has FPS {}: it covers only the first, untimed step; run "
                   "more steps".format(progress[-1].step, progress[-1].fps))
  return progress[-1].fps * rank_size


def mean_fps(progress, rank_size=1):
  """Throughput over every timed window (all lines but the untimed first step), times the number of ranks.

  Each line's window processes the same number of utterances when lines are evenly spaced, so the overall
  rate is the harmonic mean of the lines' FPS. None when no line was timed.
  """
  timed = [line.fps for line in progress if line.fps > 0]
  if not timed:
    return None
  return len(timed) / sum(1.0 / fps for fps in timed) * rank_size


def training_time_ms(global_fps, batch_size, rank_size=1):
  """Milliseconds per step: every step processes batch_size utterances on each of rank_size ranks."""
  return batch_size * rank_size * 1000.0 / global_fps


def case_name(network, batch_size, rank_size, kind="perf"):
  """Log case name ``<network>_bs<batch_size>_<rank_size>p_<kind>``."""
  return "{}_bs{}_{}p_{}".format(network, batch_size, rank_size, kind)


def summarize(text, rank_size=1, e2e_seconds=None, batch_size=None, network=DEFAULT_NETWORK, kind="perf",
              rank=None, device_type=None):
  """Everything the reference reports, as an ordered dict of its keys (values formatted as it does)."""
  progress = parse_progress(text, rank)
  fps = last_fps(progress, rank_size)
  if batch_size is None:
    parsed = parse_batch_size(text)
    if parsed is None:
      raise LogError("the log does not show batch_size_per_gpu (run.py prints the config at start); pass "
                     "--batch_size")
    batch_size_per_gpu, iter_size = parsed
  else:
    batch_size_per_gpu, iter_size = batch_size, 1
  name = case_name(network, batch_size_per_gpu, rank_size, kind)
  summary = collections.OrderedDict([
      ("Network", network),
      ("RankSize", rank_size),
      ("BatchSize", batch_size_per_gpu),
      ("DeviceType", device_type or platform.machine()),
      ("CaseName", name),
      ("ActualFPS", "{:.2f}".format(fps)),
      ("ActualLoss", progress[-1].loss_text),
      ("TrainingTime", "{:.2f}".format(training_time_ms(fps, batch_size_per_gpu * iter_size, rank_size))),
      ("E2ETrainingTime", "" if e2e_seconds is None else e2e_seconds),
  ])
  mean = mean_fps(progress, rank_size)
  return summary, [line.loss_text for line in progress], mean


def write_summary(output_dir, summary, losses):
  """Writes ``<CaseName>.log`` and ``train_<CaseName>_loss.txt``; returns their paths."""
  os.makedirs(output_dir, exist_ok=True)
  summary_path = os.path.join(output_dir, "{}.log".format(summary["CaseName"]))
  loss_path = os.path.join(output_dir, "train_{}_loss.txt".format(summary["CaseName"]))
  with open(summary_path, "w") as handle:
    handle.writelines("{} = {}\n".format(key, value) for key, value in summary.items())
  with open(loss_path, "w") as handle:
    handle.writelines(loss + "\n" for loss in losses)
  return summary_path, loss_path


def summarize_file(path, rank_size=1, e2e_seconds=None, batch_size=None, network=DEFAULT_NETWORK, kind="perf",
                   rank=None):
  """summarize() of the log file at ``path``; LogError, its message led by ``path``, when the file cannot be read
  or does not hold what a summary needs."""
  try:
    with open(path, errors="replace") as handle:
      text = handle.read()
    return summarize(text, rank_size, e2e_seconds, batch_size, network, kind, rank)
  except (OSError, LogError) as error:
    raise LogError("{}: {}".format(path, error)) from error


@one_line_errors(errors=(LogError,), prefix="parse_train_log.py: ")
def main(argv=None):
  """Prints (and with --output_dir writes) the summary the command line ``argv`` (default: sys.argv[1:]) asks
  for; returns 0, or 1 after one line on stderr when the log cannot be read or summarized."""
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--log", required=True, help="training log (train_<device>.log or horovodrun's train.log)")
  parser.add_argument("--rank_size", type=int, default=1, help="number of ranks that trained (FPS x this)")
  parser.add_argument("--rank", type=int, help="whose lines to use in a horovodrun log (default: lowest)")
  parser.add_argument("--e2e_seconds", type=int, help="wall time of the whole run, measured by the caller")
  parser.add_argument("--batch_size", type=int, help="batch size per device (default: read from the log)")
  parser.add_argument("--network", default=DEFAULT_NETWORK, help="Network name in the summary")
  parser.add_argument("--kind", default="perf", choices=["perf", "acc"], help="CaseName suffix")
  parser.add_argument("--output_dir", help="where <CaseName>.log and the loss file go (default: don't write)")
  args = parser.parse_args(argv)
  if args.rank_size < 1:
    parser.error("--rank_size must be at least 1")
  summary, losses, mean = summarize_file(args.log, args.rank_size, args.e2e_seconds, args.batch_size, args.network,
                                         args.kind, args.rank)
  print("------------------ Final result ------------------")
  print("Final Performance images/sec : {}".format(summary["ActualFPS"]))
  if mean is not None:
    print("Mean Performance images/sec (all timed steps) : {:.2f}".format(mean))
  if args.e2e_seconds is not None:
    print("E2E Training Duration sec : {}".format(args.e2e_seconds))
  print("ActualLoss : {}".format(summary["ActualLoss"]))
  print("TrainingTime (ms/step) : {}".format(summary["TrainingTime"]))
  print("CaseName : {}".format(summary["CaseName"]))
  if args.output_dir:
    summary_path, loss_path = write_summary(args.output_dir, summary, losses)
    print("Summary: {}".format(summary_path))
    print("Loss series: {}".format(loss_path))
  return 0

"""Training runs side by side: the WER of every set each run decoded (greedy and with the word LM), the
out-of-domain proxy per recording condition, and the dev WER during training, as Markdown tables and a PNG of
the dev WER curves, each run also as a difference to a baseline run.

A run is a logdir as the main job (scripts/run_mini_demo.sh) leaves it:

- ``decode_<split>.log``: scripts/decode.py's output for that split, whose ``greedy WER: <w>`` and
  ``best: alpha <a>, beta <b>, WER <w>`` lines give the greedy and LM WER (fractions);
- ``<split>_conditions.md``: the per-condition table of ``wer_of_predictions.py --conditions`` (dev-other);
- ``eval_history.csv``: the dev evaluations during training (training/eval_history.py).

This is how the README's "what bought what" rows are read off the pilots' logdirs:

    jasper-compare-runs main=results/mini_demo "seed 1=results/mini_demo_seed1" --output_prefix results/compare
"""
import argparse
import collections
import os
import re

# A Figure of its own, not pyplot: no global backend to pick, and nothing a caller has open is touched.
from matplotlib.figure import Figure

from open_seq2seq.training.eval_history import read_evaluations
from open_seq2seq.utils.atomic import atomic_output
from open_seq2seq.utils.cli import ArgumentParser, one_line_errors

# The main job's sets in the order it decodes them; other decoded splits follow in name order.
SPLIT_ORDER = ("dev-clean", "test-clean", "dev-other", "dev-piper", "dev-hibari")
_DECODE_LOG = re.compile(r"^decode_(.+)\.log$")
_CONDITIONS = re.compile(r"^(.+)_conditions\.md$")
_GREEDY_LINE = re.compile(r"^greedy WER: ([0-9.]+)\s*$", re.MULTILINE)
_BEST_LINE = re.compile(r"^best: alpha ([-0-9.e+]+), beta ([-0-9.e+]+), WER ([0-9.]+)\s*$", re.MULTILINE)
_CONDITION_ROW = re.compile(r"^\|\s*([^|]+?)\s*\|\s*(\d+)\s*\|\s*([0-9.]+)\s*\|\s*$")

Decoding = collections.namedtuple("Decoding", "greedy lm alpha beta")
Run = collections.namedtuple("Run", "name logdir decodings conditions evaluations unfinished")


def _read_text(path):
  """The text of ``path``; ValueError naming it when it is not UTF-8 text."""
  try:
    with open(path, encoding="utf-8") as handle:
      return handle.read()
  except UnicodeDecodeError as error:
    raise ValueError("{}: not a text file ({})".format(path, error)) from None


def read_decode_log(path):
  """The Decoding (greedy and LM WER as fractions, the LM's alpha and beta) of a scripts/decode.py log; ``lm``,
  ``alpha`` and ``beta`` are None for a log without LM decoding (yet), and the whole result is None for a log
  without a ``greedy WER`` line (decoding still running, or failed). ValueError naming a file that is not text."""
  text = _read_text(path)
  greedy = _GREEDY_LINE.findall(text)
  if not greedy:
    return None
  best = _BEST_LINE.findall(text)
  if not best:
    return Decoding(float(greedy[-1]), None, None, None)
  alpha, beta, wer = best[-1]
  return Decoding(float(greedy[-1]), float(wer), float(alpha), float(beta))


def read_condition_table(path):
  """``{condition: (utterances, WER in %)}`` of a ``wer_of_predictions.py --conditions`` table; ValueError
  naming the file when it holds no condition row."""
  rows = collections.OrderedDict()
  for line in _read_text(path).splitlines():
    match = _CONDITION_ROW.match(line.strip())
    if match:
      rows[match.group(1)] = (int(match.group(2)), float(match.group(3)))
  if not rows:
    raise ValueError("{}: no '| condition | utterances | WER (%) |' rows".format(path))
  return rows


def split_order(splits):
  """``splits`` with the main job's sets first, in its order, then the others by name."""
  known = [split for split in SPLIT_ORDER if split in splits]
  return known + sorted(set(splits) - set(known))


def load_run(name, logdir):
  """The Run of ``logdir``: its decoded splits, condition tables and dev evaluations. ValueError naming the
  logdir when it is not a folder or holds neither a decode log nor an eval history."""
  if not os.path.isdir(logdir):
    raise ValueError("run {!r}: {} is not a folder".format(name, logdir))
  decodings, conditions, unfinished = {}, {}, []
  for entry in sorted(os.listdir(logdir)):
    path = os.path.join(logdir, entry)
    decode = _DECODE_LOG.match(entry)
    if decode:
      decoding = read_decode_log(path)
      if decoding is None:
        unfinished.append(path)
      else:
        decodings[decode.group(1)] = decoding
    table = _CONDITIONS.match(entry)
    if table:
      conditions[table.group(1)] = read_condition_table(path)
  evaluations = read_evaluations(logdir)
  if not decodings and not unfinished and not evaluations:
    raise ValueError("run {!r}: {} holds no decode_<split>.log and no eval_history.csv (not a main-job logdir, "
                     "or nothing finished yet)".format(name, logdir))
  return Run(name, logdir, decodings, conditions, evaluations, unfinished)


def parse_run_argument(text):
  """``NAME=LOGDIR`` -> (NAME, LOGDIR); a bare ``LOGDIR`` is named by its last path component."""
  name, separator, logdir = text.partition("=")
  if not separator:
    return os.path.basename(os.path.normpath(text)), text
  if not name or not logdir:
    raise ValueError("expected NAME=LOGDIR or LOGDIR, got {!r}".format(text))
  return name, logdir


def _cell(value, baseline):
  """``value`` (a WER in %) with its difference to ``baseline`` (None: the baseline's own cell, or the baseline
  lacks it); '-' when the run lacks it."""
  if value is None:
    return "-"
  if baseline is None:
    return "{:.2f}".format(value)
  return "{:.2f} ({:+.2f})".format(value, value - baseline)


def wer_table(runs, baseline):
  """Markdown table of greedy / LM WER (%) per run and split, differences to the ``baseline`` Run in brackets
  (none on the baseline's own row)."""
  splits = split_order({split for run in runs for split in run.decodings})
  header = ["run"] + ["{} {}".format(split, kind) for split in splits for kind in ("greedy", "LM")]
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  for run in runs:
    cells = [run.name]
    for split in splits:
      for kind in ("greedy", "lm"):
        value = _percent(run.decodings.get(split), kind)
        reference = None if run is baseline else _percent(baseline.decodings.get(split), kind)
        cells.append(_cell(value, reference))
    lines.append("| " + " | ".join(cells) + " |")
  return lines


def _percent(decoding, kind):
  """The ``kind`` ('greedy' or 'lm') WER of a Decoding in %, None when absent."""
  value = None if decoding is None else getattr(decoding, kind)
  return None if value is None else 100 * value


def condition_tables(runs, baseline):
  """Per split with condition tables, a Markdown table of the WER (%) per condition (rows) and run (columns)."""
  lines = []
  for split in split_order({split for run in runs for split in run.conditions}):
    names = []
    for run in runs:
      names += [name for name in run.conditions.get(split, {}) if name not in names]
    lines += ["", "{} with the LM, WER (%) by condition:".format(split), "",
              "| condition | " + " | ".join(run.name for run in runs) + " |", "|---|" + "---|" * len(runs)]
    for condition in names:
      cells = []
      for run in runs:
        value = run.conditions.get(split, {}).get(condition, (None, None))[1]
        reference = None if run is baseline else baseline.conditions.get(split, {}).get(condition, (None, None))[1]
        cells.append(_cell(value, reference))
      lines.append("| {} | {} |".format(condition, " | ".join(cells)))
  return lines


def history_table(runs, baseline):
  """Markdown table of the dev WER (%) during training: one row per evaluated step, one column per run."""
  steps = sorted({step for run in runs for step, _, _ in run.evaluations})
  if not steps:
    return []
  by_run = {run.name: {step: 100 * wer for step, _, wer in run.evaluations} for run in runs}
  lines = ["", "Dev WER (%) during training:", "", "| step | " + " | ".join(run.name for run in runs) + " |",
           "|---|" + "---|" * len(runs)]
  for step in steps:
    reference = by_run[baseline.name].get(step)
    cells = [_cell(by_run[run.name].get(step), None if run is baseline else reference) for run in runs]
    lines.append("| {} | {} |".format(step, " | ".join(cells)))
  return lines


def comparison_markdown(runs, baseline_name=None):
  """The whole comparison as Markdown text; ``baseline_name`` (default: the first run) names the run the others
  are compared with. ValueError for an unknown baseline or two runs of the same name."""
  names = [run.name for run in runs]
  duplicates = sorted({name for name in names if names.count(name) > 1})
  if duplicates:
    raise ValueError("two runs are named {} (name them: NAME=LOGDIR)".format(", ".join(map(repr, duplicates))))
  baseline_name = names[0] if baseline_name is None else baseline_name
  if baseline_name not in names:
    raise ValueError("--baseline {!r} is none of the runs ({})".format(baseline_name, ", ".join(names)))
  baseline = runs[names.index(baseline_name)]
  lines = ["WER (%), greedy and with the word LM; in brackets the difference to {}.".format(baseline.name), ""]
  lines += wer_table(runs, baseline) + condition_tables(runs, baseline) + history_table(runs, baseline)
  lines += ["", "Runs: " + "; ".join("{} = {}".format(run.name, run.logdir) for run in runs)]
  unfinished = [path for run in runs for path in run.unfinished]
  if unfinished:
    lines.append("Decode logs without a greedy WER yet (still decoding, or failed): " + ", ".join(unfinished))
  return "\n".join(lines) + "\n"


def plot_histories(runs, path):
  """Writes a PNG of every run's dev WER (%) against the training step to ``path``."""
  figure = Figure(figsize=(8, 4.5))
  axis = figure.subplots()
  for run in runs:
    if run.evaluations:
      axis.plot([step for step, _, _ in run.evaluations], [100 * wer for _, _, wer in run.evaluations], "o-",
                markersize=3, label=run.name)
  axis.set_xlabel("global step")
  axis.set_ylabel("dev WER (%)")
  axis.grid(True, alpha=0.3)
  axis.legend()
  figure.tight_layout()
  with atomic_output(path) as tmp:
    figure.savefig(tmp, dpi=100, format="png")


def main(argv=None):
  """Prints the comparison of the runs on the command line ``argv`` (default: sys.argv[1:]); with
  ``--output_prefix`` also writes it to ``<prefix>.md`` and the dev WER curves to ``<prefix>.png``. Returns 0;
  raises ValueError or OSError on bad input (one line on stderr from the console script)."""
  parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("runs", nargs="+", metavar="[NAME=]LOGDIR", help="main-job logdirs, the baseline first")
  parser.add_argument("--baseline", help="name of the run the others are compared with (default: the first)")
  parser.add_argument("--output_prefix", help="also write <prefix>.md and <prefix>.png")
  args = parser.parse_args(argv)
  runs = [load_run(*parse_run_argument(text)) for text in args.runs]
  text = comparison_markdown(runs, args.baseline)
  if args.output_prefix:
    folder = os.path.dirname(os.path.abspath(args.output_prefix))
    os.makedirs(folder, exist_ok=True)
    with atomic_output(args.output_prefix + ".md") as tmp:
      with open(tmp, "w") as handle:
        handle.write(text)
    plot_histories(runs, args.output_prefix + ".png")
  print(text, end="")
  return 0


# The entry point of scripts/compare_runs.py and the console script jasper-compare-runs.
cli = one_line_errors()(main)

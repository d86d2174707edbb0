#!/usr/bin/env python
"""The main job's training throughput against an earlier commit's, measured in turns in one run.

Each round runs ``bench/main_job_step.py --variants main_job --rounds 1`` (the main job's step with its live
pipeline: mini config, the main job's precision on this CPU, the config's training augmentation) once in a worktree
of ``--baseline`` and once in this checkout, in alternating order, each in its own process, so both see the same
machine and the same neighbours. Both run this checkout's main_job_step.py (copied into the worktree), so both
steps are measured the same way. Prints the seconds per step and audio-seconds trained per wall-second of every run
and the median ratio of this checkout to the baseline (> 1: faster now). The worktree is removed at the end.

    JASPER_MINI_CORPUS=DIR python bench/main_job_versus_commit.py --baseline 5a565d8 [--rounds 3] [--steps 100]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def git(*args):
  """stdout of ``git args`` in this checkout; raises CalledProcessError with git's message."""
  return subprocess.run(["git", "-C", REPO, *args], check=True, capture_output=True, text=True).stdout.strip()


def step_run(tree, json_path, steps, warmup):
  """One main-job round of ``tree``'s main_job_step.py: its measurement dict (wall, cpu, audio per step)."""
  env = dict(os.environ, PYTHONPATH=tree)
  command = [sys.executable, os.path.join("bench", "main_job_step.py"), "--variants", "main_job", "--rounds", "1",
             "--steps", str(steps), "--warmup", str(warmup), "--traces", "1", "--utterances", "20",
             "--pipeline_batches", "5", "--json", json_path]
  completed = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
  if completed.returncode != 0:
    raise RuntimeError("{} in {} failed (exit {}):\n{}".format(" ".join(command), tree, completed.returncode,
                                                                completed.stderr[-2000:]))
  with open(json_path) as handle:
    return json.load(handle)["main_job"]["rounds"][0]


def report(runs, baseline_name):
  """Markdown: every run, then the median ratio (now / baseline) of the throughput and of the step time."""
  lines = ["| round | code | s per step | audio s per wall s | CPU s per step | real / padded frames |",
           "|---|---|---|---|---|---|"]
  for index, pair in enumerate(runs, 1):
    for name, run in pair.items():
      lines.append("| {} | {} | {:.3f} | {:.0f} | {:.3f} | {:.3f} |".format(
          index, name, run["wall"], run["audio"] / run["wall"], run["cpu"], run["real_share"]))
  ratios = [(pair["now"]["audio"] / pair["now"]["wall"]) / (pair[baseline_name]["audio"] / pair[baseline_name]["wall"])
            for pair in runs]
  lines += ["", "audio-seconds per wall-second, now / {}: median {:.2f}x (rounds: {})".format(
      baseline_name, statistics.median(ratios), ", ".join("{:.2f}".format(r) for r in ratios))]
  return "\n".join(lines)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--baseline", required=True, help="commit (any git revision) to measure against")
  parser.add_argument("--rounds", type=int, default=3, help="rounds, each running both codes in turns")
  parser.add_argument("--steps", type=int, default=100, help="timed steps per run")
  parser.add_argument("--warmup", type=int, default=30, help="steps before timing in each run")
  args = parser.parse_args(argv)
  if args.rounds < 1 or args.steps < 1 or args.warmup < 0:
    parser.error("--rounds and --steps must be >= 1 and --warmup >= 0, got {}, {}, {}".format(
        args.rounds, args.steps, args.warmup))
  if not os.environ.get("JASPER_MINI_CORPUS"):
    parser.error("set JASPER_MINI_CORPUS to the main job's corpus (scripts/build_mini_corpus.py)")
  try:
    commit = git("rev-parse", "--verify", args.baseline + "^{commit}")
  except subprocess.CalledProcessError as error:
    parser.error("--baseline {!r} is not a commit of {}: {}".format(args.baseline, REPO, error.stderr.strip()))
  baseline_name = "baseline " + commit[:7]
  with tempfile.TemporaryDirectory(prefix="versus_") as scratch:
    tree = os.path.join(scratch, "tree")
    git("worktree", "add", "--detach", "-q", tree, commit)
    try:
      shutil.copy(os.path.join(REPO, "bench", "main_job_step.py"), os.path.join(tree, "bench", "main_job_step.py"))
      runs = []
      for index in range(args.rounds):
        pair = {}
        order = [("now", REPO), (baseline_name, tree)]
        for name, path in order if index % 2 else order[::-1]:
          pair[name] = step_run(path, os.path.join(scratch, "step.json"), args.steps, args.warmup)
          print("round {} {}: {:.3f} s per step".format(index + 1, name, pair[name]["wall"]), flush=True)
        runs.append(pair)
    finally:
      git("worktree", "remove", "--force", tree)
  print("\nmain job step ({} steps per run after {} warm-up), this checkout ({}) against {}\n".format(
      args.steps, args.warmup, git("rev-parse", "--short", "HEAD"), commit[:7]))
  print(report(runs, baseline_name))
  return 0


if __name__ == "__main__":
  sys.exit(main())

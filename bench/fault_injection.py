#!/usr/bin/env python
"""Fault injection: SIGKILL training at random moments (checkpoints are written every few steps, so many kills
land during a save), resume with --continue_learning each time, and check that no checkpoint the state file
lists is ever corrupt and that global_step carries on. Finally trains to the last step.

    JASPER_MINI_CORPUS=data/mini_librispeech python bench/fault_injection.py [--kills 10] [--max_steps 400]

Prints: kills, successful resumes, corrupt checkpoints found (must be 0), final step reached.
"""
import argparse
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time

from open_seq2seq.utils.checkpoint import checkpoint_is_complete, listed_checkpoints

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
PROGRESS = re.compile(r"global_step:\s+(\d+)")
RESTORED = re.compile(r"Restored checkpoint from .*model\.ckpt-(\d+)")


def training_command(args, logdir, resume):
  command = [sys.executable, "run.py", "--config_file=" + args.config_file, "--mode=train", "--logdir=" + logdir,
             "--max_steps={}".format(args.max_steps), "--save_checkpoint_steps={}".format(args.save_checkpoint_steps),
             "--print_loss_steps=1", "--num_checkpoints=3"]
  return command + (["--continue_learning"] if resume else [])


def run_until_killed(args, logdir, resume, rng):
  """Starts training, waits for its first step, SIGKILLs it after a random delay. Returns (restored step or
  None, first step trained or None, exit code when it finished before the kill, else None)."""
  process = subprocess.Popen(training_command(args, logdir, resume), cwd=REPO, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
  restored = first_step = None
  for line in process.stdout:
    match = RESTORED.search(line)
    if match:
      restored = int(match.group(1))
    match = PROGRESS.search(line)
    if match:
      first_step = int(match.group(1))
      break
  if first_step is None:
    # Its output ended before a step: it is exiting on its own (nothing left to train, or an error).
    return restored, None, process.wait()
  time.sleep(rng.uniform(0.0, args.max_delay_s))
  exit_code = process.poll()
  if exit_code is None:
    process.send_signal(signal.SIGKILL)
  process.communicate()
  return restored, first_step, exit_code


def resume_succeeded(restored, first_step, exit_code, max_steps):
  """A resume succeeded when it restored a checkpoint and trained on from the step after it; a checkpoint of
  the last step (the previous run was killed while exiting) leaves nothing to train, and the run must end
  cleanly."""
  if restored is None:
    return False
  if restored >= max_steps:
    return exit_code == 0
  return first_step is not None and first_step > restored


def corrupt_listed_checkpoints(logdir):
  return [path for path in listed_checkpoints(logdir) if not checkpoint_is_complete(path)]


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--config_file", default="configs/speech2text/jasper_tiny_nvgrad.py")
  parser.add_argument("--kills", type=int, default=10)
  parser.add_argument("--max_steps", type=int, default=400)
  parser.add_argument("--save_checkpoint_steps", type=int, default=2)
  parser.add_argument("--max_delay_s", type=float, default=4.0, help="kill within this long after the first step")
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--logdir", help="default: a fresh temporary folder")
  args = parser.parse_args(argv)
  rng = random.Random(args.seed)
  logdir = args.logdir or tempfile.mkdtemp(prefix="fault_injection_")
  kills = resumes = attempts = 0
  corrupt = []
  for _ in range(args.kills):
    resume = bool(listed_checkpoints(logdir))
    restored, first_step, exit_code = run_until_killed(args, logdir, resume, rng)
    if resume:
      attempts += 1
      resumes += int(resume_succeeded(restored, first_step, exit_code, args.max_steps))
    if exit_code is not None:
      break
    kills += 1
    corrupt += corrupt_listed_checkpoints(logdir)
  final = subprocess.run(training_command(args, logdir, resume=True), cwd=REPO, capture_output=True, text=True,
                         check=False)
  attempts += 1
  restored = RESTORED.search(final.stdout)
  resumes += int(final.returncode == 0 and restored is not None)
  steps = [int(step) for step in PROGRESS.findall(final.stdout)]
  final_step = max(steps) if steps else (int(restored.group(1)) if restored else None)
  corrupt += corrupt_listed_checkpoints(logdir)
  print("| kills | successful resumes | corrupt checkpoints found | final step reached |")
  print("|---|---|---|---|")
  print("| {} | {}/{} | {} | {} of {} |".format(kills, resumes, attempts, len(corrupt), final_step, args.max_steps))
  for path in corrupt:
    print("corrupt: {}".format(path))
  if final.returncode != 0:
    print(final.stdout[-2000:] + final.stderr[-2000:])
  healthy = not corrupt and resumes == attempts and final_step == args.max_steps
  return 0 if healthy else 1


if __name__ == "__main__":
  sys.exit(main())

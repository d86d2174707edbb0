"""Timing helpers for benchmarks on shared machines: wait for an idle CPU, and keep only iterations
during which this process had the cores to itself (process CPU time / (wall time x cores) >= 0.9)."""
import os
import time


def _busy_and_total():
  with open("/proc/stat") as handle:
    fields = [int(v) for v in handle.readline().split()[1:]]
  idle = fields[3] + fields[4]
  return sum(fields) - idle, sum(fields)


def _children_cpu_time():
  times = os.times()
  return times.children_user + times.children_system


def thread_cpu_time():
  """CPU seconds of this thread plus those of this process's finished child processes (e.g. the sox runs of
  the codec augmentation, which thread or process CPU time alone would miss)."""
  return time.thread_time() + _children_cpu_time()


def process_cpu_time():
  """CPU seconds of this process (all threads) plus those of its finished child processes."""
  return time.process_time() + _children_cpu_time()


def wait_for_idle_cpu(max_busy_fraction=0.1, timeout_s=120, probe_s=1.0):
  """Blocks until the machine's other load is below ``max_busy_fraction``; returns the last reading."""
  deadline = time.time() + timeout_s
  while True:
    busy0, total0 = _busy_and_total()
    time.sleep(probe_s)
    busy1, total1 = _busy_and_total()
    busy = (busy1 - busy0) / max(1, total1 - total0)
    if busy <= max_busy_fraction or time.time() > deadline:
      return busy


def timed_iterations(step, iterations, min_utilisation=0.9, threads=None):
  """Runs ``step()`` ``iterations`` times; returns (kept wall times, utilisation of each iteration).

  Utilisation = process CPU time / (wall time x threads); iterations below ``min_utilisation`` were
  slowed by a neighbour and are dropped from the kept times.
  """
  threads = threads or os.cpu_count()
  kept, utilisations = [], []
  for _ in range(iterations):
    cpu0, wall0 = time.process_time(), time.perf_counter()
    step()
    cpu1, wall1 = time.process_time(), time.perf_counter()
    wall = wall1 - wall0
    utilisation = (cpu1 - cpu0) / (wall * threads) if wall > 0 else 0.0
    utilisations.append(utilisation)
    if utilisation >= min_utilisation:
      kept.append(wall)
  return kept, utilisations

"""The benchmarks' CPU clocks count the child processes a call waits for (the codec augmentation's sox runs)."""
import subprocess
import sys
import time

from bench.cpu_budget import process_cpu_time, thread_cpu_time

# A child that spins for 0.3 s of its own CPU time, then exits.
_BURN = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end:\n  pass\n"


def test_child_cpu_counts_in_both_clocks_and_not_in_the_threads_own():
  thread0, own0, process0 = thread_cpu_time(), time.thread_time(), process_cpu_time()
  subprocess.run([sys.executable, "-c", _BURN], check=True)
  child_part = (thread_cpu_time() - thread0) - (time.thread_time() - own0)
  assert 0.3 <= child_part < 3.0
  assert process_cpu_time() - process0 >= 0.3

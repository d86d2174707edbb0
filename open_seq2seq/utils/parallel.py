"""Bounded parallel map for I/O- and subprocess-bound jobs (audio conversion, speech synthesis)."""
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait


def bounded_parallel_map(function, jobs, workers, progress_bar=None):
  """Yields ``function(job)`` for every job of the (possibly lazy) iterable, in completion order.

  At most ``4 * workers`` jobs are queued at once, so a stream of 281k files is never materialised. The
  first exception cancels the queued jobs and propagates; ``progress_bar`` (tqdm-like) is advanced per
  result and closed at the end.
  """
  workers = max(1, workers)
  job_iter = iter(jobs)
  try:
    with ThreadPoolExecutor(workers) as pool:
      pending = set()
      try:
        while True:
          while len(pending) < 4 * workers:
            job = next(job_iter, None)
            if job is None:
              break
            pending.add(pool.submit(function, job))
          if not pending:
            break
          done, pending = wait(pending, return_when=FIRST_COMPLETED)
          for future in done:
            result = future.result()
            if progress_bar is not None:
              progress_bar.update(1)
            yield result
      except BaseException:
        for future in pending:
          future.cancel()
        raise
  finally:
    if progress_bar is not None:
      progress_bar.close()

#!/usr/bin/env python
"""What one core can compute right now, without memory traffic: the clock (a chain of dependent 3-cycle integer
multiplies), the float32 AVX-512 FMA peak (16 independent accumulators) and the AMX bfloat16 peak (tdpbf16ps on
four accumulator tiles from register-resident tiles: 16x16x32 multiply-adds, 16384 FLOP, each). A small C
program, compiled here with gcc, run --runs times one after the other on one core.

    python bench/cpu_peaks.py [--runs 10] [--parallel]

Read against the benchmarks: TensorFlow's float32 GEMM and convolutions reach about the FMA figure, the bfloat16
ones a fraction of the AMX figure. On a virtual machine the AMX figure can change from run to run at a constant
clock when the physical core's AMX unit is shared with a neighbour (the bfloat16 timings then change with it).
--parallel runs one copy per core at once (cores that share an execution unit show it as halved figures).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

SOURCE = r"""
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <immintrin.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

typedef struct {
  unsigned char palette, start_row, reserved[14];
  unsigned short colsb[16];
  unsigned char rows[16];
} __attribute__((packed)) tile_config;

int main(void) {
  long n = 600000000L, x = 1;
  double start = now();
  for (long i = 0; i < n; i += 4) {
    __asm__ volatile("imul $3, %0, %0\n\timul $3, %0, %0\n\timul $3, %0, %0\n\timul $3, %0, %0" : "+r"(x));
  }
  double clock_ghz = 3.0 * n / (now() - start) / 1e9;

  __m512 acc[16];
  for (int j = 0; j < 16; j++) acc[j] = _mm512_set1_ps(1.0f + j);
  __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(0.001f);
  long m = 60000000L;
  start = now();
  for (long i = 0; i < m; i++)
    for (int j = 0; j < 16; j++) acc[j] = _mm512_fmadd_ps(acc[j], a, b);
  double fma = m * 16.0 * 32 / (now() - start) / 1e9;
  float sink = 0;
  for (int j = 0; j < 16; j++) sink += _mm512_reduce_add_ps(acc[j]);

  double amx = 0;
  if (syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XFEATURE_XTILEDATA */) == 0) {
    tile_config config;
    memset(&config, 0, sizeof config);
    config.palette = 1;
    for (int i = 0; i < 8; i++) { config.colsb[i] = 64; config.rows[i] = 16; }
    _tile_loadconfig(&config);
    static unsigned short ones[16 * 32];
    for (int i = 0; i < 16 * 32; i++) ones[i] = 0x3f80;
    _tile_loadd(4, ones, 64); _tile_loadd(5, ones, 64); _tile_loadd(6, ones, 64); _tile_loadd(7, ones, 64);
    _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
    long k = 8000000L;
    start = now();
    for (long i = 0; i < k; i++) {
      _tile_dpbf16ps(0, 4, 6); _tile_dpbf16ps(1, 4, 7); _tile_dpbf16ps(2, 5, 6); _tile_dpbf16ps(3, 5, 7);
    }
    amx = 4.0 * k * 16384 / (now() - start) / 1e9;
    static float out[16 * 16];
    _tile_stored(0, out, 64);
    sink += out[0];
    _tile_release();
  }
  printf("clock_ghz %.3f fma_gflops %.1f amx_gflops %.1f sink %g\n", clock_ghz, fma, amx, sink);
  return 0;
}
"""
LINE = re.compile(r"clock_ghz ([\d.]+) fma_gflops ([\d.]+) amx_gflops ([\d.]+)")


def build(directory):
  """Compiles SOURCE into ``directory``; returns the program's path. Raises OSError when gcc is missing or
  fails (it needs AVX-512 and AMX support: gcc >= 11)."""
  source, program = os.path.join(directory, "peaks.c"), os.path.join(directory, "peaks")
  with open(source, "w") as handle:
    handle.write(SOURCE)
  try:
    result = subprocess.run(["gcc", "-O3", "-mavx512f", "-mamx-tile", "-mamx-bf16", "-o", program, source],
                            capture_output=True, text=True, check=False)
  except FileNotFoundError as error:
    raise OSError("gcc not found: {}".format(error)) from error
  if result.returncode != 0:
    raise OSError("gcc failed: {}".format(result.stderr.strip()[-500:]))
  return program


def measure(program, copies=1):
  """(clock GHz, FMA GFLOP/s, AMX GFLOP/s) of ``copies`` simultaneous runs of ``program``, one tuple each (AMX 0
  where the kernel refuses AMX)."""
  processes = [subprocess.Popen([program], stdout=subprocess.PIPE, text=True) for _ in range(copies)]
  values = []
  for process in processes:
    output, _ = process.communicate()
    match = LINE.search(output)
    if process.returncode != 0 or match is None:
      raise OSError("the probe failed ({}): {}".format(process.returncode, output.strip()))
    values.append(tuple(float(v) for v in match.groups()))
  return values


def main(argv=None):
  """Prints each run's figures and their range; returns 0, or 1 (one line) when the probe cannot be built."""
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--runs", type=int, default=10)
  parser.add_argument("--parallel", action="store_true", help="one copy per core at once")
  args = parser.parse_args(argv)
  copies = os.cpu_count() if args.parallel else 1
  with tempfile.TemporaryDirectory() as directory:
    try:
      program = build(directory)
    except OSError as error:
      sys.stderr.write("*** Error: {}\n".format(error))
      return 1
    rows = []
    for run in range(args.runs):
      values = measure(program, copies)
      rows.extend(values)
      print("run {}: ".format(run + 1) + "; ".join(
          "clock {:.2f} GHz, fp32 FMA {:.0f} GFLOP/s, AMX bf16 {:.0f} GFLOP/s".format(*v) for v in values),
          flush=True)
  columns = np.array(rows)
  print("\nper core, {} run(s){}: min / median / max".format(len(rows), " ({} at once)".format(copies)
                                                             if copies > 1 else ""))
  for index, (name, unit) in enumerate((("clock", "GHz"), ("fp32 FMA", "GFLOP/s"), ("AMX bf16", "GFLOP/s"))):
    low, mid, high = np.min(columns[:, index]), np.median(columns[:, index]), np.max(columns[:, index])
    print("  {}: {:.2f} / {:.2f} / {:.2f} {}".format(name, low, mid, high, unit))
  clock = np.median(columns[:, 0])
  print("  per cycle at the median clock: fp32 FMA {:.0f} FLOP (2 FMA ports: 64), AMX {:.0f} FLOP (peak 1024)".format(
      np.median(columns[:, 1]) / clock, np.median(columns[:, 2]) / clock))
  return 0


if __name__ == "__main__":
  sys.exit(main())

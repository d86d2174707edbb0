#!/usr/bin/env python
"""Which oneDNN kernels run a workload, and for how long: the 5x3 frozen forward pass, the 5x3 training step or a
GEMM, run with ONEDNN_VERBOSE=1 in a child process and summarised per primitive, implementation, propagation
kind, data type and post-ops (AMX ``brgconv...:avx512_core_amx`` against ``avx512_core_bf16`` or plain
``avx512_core`` fallbacks, ``ref``/``gemm`` kernels, reorders and their share of the run).

    python bench/onednn_kernels.py [--what forward,train,gemm] [--dtype bfloat16] [--batch_size 8]
                                   [--num_frames 1600] [--gemm_n 4096] [--no-fold_batch_norm] [--runs 1]
                                   [--inter_op_threads 0] [--env ONEDNN_DEFAULT_FPMATH_MODE=BF16 ...]
                                   [--json FILE]

Each workload first runs untimed (graph optimisation, weight reorders of the first run) and then --runs times
between two markers; only the primitives executed between the markers are counted. oneDNN's own times are
wall milliseconds per primitive call; their sum against the marked runs' wall time tells how much of the run
happened outside oneDNN (TensorFlow's own kernels: casts, masks, element-wise ops, data movement). --dtype is
the export dtype of the forward graph (float32, float16, bfloat16), the training step's dtype (float32, mixed,
bfloat16) or the GEMM's (float32, bfloat16). The CPU load of other processes inflates the times alike; the
kernels chosen do not depend on it.
"""
import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
FIVE_BY_THREE = "configs/speech2text/jasper5x3_LibriSpeech_nvgrad_masks_1p.py"
BEGIN, END = "=== oneDNN kernels: timed runs begin", "=== oneDNN kernels: timed runs end"
WHATS = ("forward", "train", "gemm")


def workload(args):
  """The step function of ``args.what`` in this (child) process: builds the graph and session, returns step()."""
  import numpy as np
  import tensorflow.compat.v1 as tf
  tf.disable_eager_execution()
  tf.logging.set_verbosity(tf.logging.ERROR)
  config_file = os.path.join(REPO, FIVE_BY_THREE)
  if args.what == "forward":
    from bench.bench_inference import freeze_random_model
    from open_seq2seq.distributed.session_config import inference_session_config
    from open_seq2seq.export.frozen_model import FrozenJasper
    path = os.path.join(tempfile.mkdtemp(), "model.pb")
    freeze_random_model(config_file, path, args.dtype, args.fold_batch_norm)
    config = inference_session_config()
    config.inter_op_parallelism_threads = args.inter_op_threads
    model = FrozenJasper(path, config)
    rng = np.random.default_rng(0)
    features = [rng.standard_normal([args.num_frames, model.num_features]).astype(np.float32)
                for _ in range(args.batch_size)]
    return lambda: model.run(features)
  if args.what == "train":
    from bench.bench_train_step import step_params
    from open_seq2seq.utils.config import load_config_module
    config_module = load_config_module(config_file)
    model = config_module["base_model"](
        params=step_params(config_module, args.dtype, args.batch_size, args.num_frames, 10), mode="train")
    model.compile()
    session = tf.Session(config=tf.ConfigProto(inter_op_parallelism_threads=args.inter_op_threads))
    session.run([tf.global_variables_initializer(), model.get_data_layer().iterator.initializer])
    return lambda: session.run(model.train_op)
  rng = np.random.default_rng(0)
  a, b = (tf.Variable(tf.cast(rng.standard_normal([args.gemm_n] * 2).astype(np.float32), tf.as_dtype(args.dtype)))
          for _ in range(2))
  product = tf.matmul(a, b)
  session = tf.Session()
  session.run(tf.global_variables_initializer())
  return lambda: session.run(product.op)


def child(args):
  """Runs the workload once untimed, then ``args.runs`` times between the markers (on stdout, as the verbose
  lines are); prints the wall seconds of the marked runs."""
  step = workload(args)
  step()
  sys.stdout.flush()
  print(BEGIN, flush=True)
  start = time.perf_counter()
  for _ in range(args.runs):
    step()
  seconds = time.perf_counter() - start
  sys.stdout.flush()
  print(END, flush=True)
  print("wall_seconds {:.6f}".format(seconds), flush=True)


def post_ops(attributes):
  """The post-ops of a verbose line's attributes field (e.g. ``sum+eltwise_relu``), or ``-``."""
  for attribute in attributes.split():
    if attribute.startswith("attr-post-ops:"):
      return attribute[len("attr-post-ops:"):]
  return "-"


def data_types(descriptors):
  """``src/weights/dst`` data types of a verbose line's memory descriptors (e.g. ``bf16/bf16/bf16``)."""
  types = {}
  for descriptor in descriptors.split():
    kind, _, rest = descriptor.partition("_")
    types.setdefault(kind, rest.split(":")[0])
  keys = [k for k in ("src", "wei", "dst") if k in types] or list(types)
  return "/".join(types[k] for k in keys)


def summarise(lines):
  """Rows (primitive, implementation, propagation, data types, post-ops, calls, ms) of the ``exec`` lines of
  oneDNN 3.x verbose output (operation,engine,primitive,implementation,prop_kind,memory_descriptors,attributes,
  auxiliary,problem_desc,exec_time), slowest first."""
  totals = collections.defaultdict(lambda: [0, 0.0])
  for line in lines:
    fields = line.strip().split(",")
    if len(fields) < 11 or fields[0] != "onednn_verbose" or fields[1] != "exec":
      continue
    key = (fields[3], fields[4] or "-", fields[5], data_types(fields[6]), post_ops(fields[7]))
    totals[key][0] += 1
    totals[key][1] += float(fields[-1])
  return sorted((key + tuple(value) for key, value in totals.items()), key=lambda row: -row[-1])


def markdown(rows, wall_seconds, runs):
  """The Markdown table of ``summarise``'s rows, per run, with each row's share of the run's wall time."""
  wall_ms = 1000.0 * wall_seconds / runs
  onednn_ms = sum(row[-1] for row in rows) / runs
  lines = ["| primitive | implementation | propagation | src/wei/dst | post-ops | calls | ms | share of wall |",
           "|---|---|---|---|---|---|---|---|"]
  for primitive, implementation, propagation, types, post, calls, ms in rows:
    lines.append("| {} | {} | {} | {} | {} | {} | {:.1f} | {:.1%} |".format(
        primitive, implementation, propagation, types, post, calls // runs, ms / runs, ms / runs / wall_ms))
  lines.append("| all oneDNN primitives | | | | | {} | {:.1f} | {:.1%} |".format(
      sum(row[5] for row in rows) // runs, onednn_ms, onednn_ms / wall_ms))
  lines.append("| outside oneDNN (TensorFlow kernels, framework) | | | | | | {:.1f} | {:.1%} |".format(
      wall_ms - onednn_ms, 1 - onednn_ms / wall_ms))
  return "\n".join(lines)


def run_child(args, what):
  """Runs one workload in a child process with ONEDNN_VERBOSE=1; returns (rows, wall seconds)."""
  command = [sys.executable, "-m", "bench.onednn_kernels", "--child", "--what", what, "--dtype", args.dtype,
             "--batch_size", str(args.batch_size), "--num_frames", str(args.num_frames), "--gemm_n",
             str(args.gemm_n), "--runs", str(args.runs), "--inter_op_threads", str(args.inter_op_threads),
             "--fold_batch_norm" if args.fold_batch_norm else "--no-fold_batch_norm"]
  env = dict(os.environ, ONEDNN_VERBOSE="1", TF_CPP_MIN_LOG_LEVEL="2")
  for item in args.env:
    key, _, value = item.partition("=")
    env[key] = value
  result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)
  if result.returncode != 0:
    raise RuntimeError("{} failed ({}): {}".format(what, result.returncode, result.stderr[-2000:]))
  lines = result.stdout.splitlines()
  marked = lines[lines.index(BEGIN) + 1:lines.index(END)]
  wall = float([line for line in lines if line.startswith("wall_seconds ")][-1].split()[1])
  info = [line for line in lines if line.startswith("onednn_verbose,info,cpu,isa")]
  return summarise(marked), wall, info[0].split("isa:", 1)[-1] if info else "?"


def main(argv=None):
  """Summarises the oneDNN kernels of each workload of --what; prints Markdown tables; returns 0."""
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--what", default="forward,train,gemm", help="comma-separated, from {}".format(WHATS))
  parser.add_argument("--dtype", default="bfloat16")
  parser.add_argument("--batch_size", type=int, default=8)
  parser.add_argument("--num_frames", type=int, default=1600)
  parser.add_argument("--gemm_n", type=int, default=4096)
  parser.add_argument("--fold_batch_norm", action=argparse.BooleanOptionalAction, default=True,
                      help="the forward graph as ckpt2pb.py exports it (batch norm folded, the default)")
  parser.add_argument("--runs", type=int, default=1)
  parser.add_argument("--inter_op_threads", type=int, default=0,
                      help="0: TensorFlow's default (ops of parallel branches overlap, so their oneDNN times add up "
                           "to more than the wall time); 1: one op at a time, the times add up")
  parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the child, e.g. "
                                                                 "ONEDNN_DEFAULT_FPMATH_MODE=BF16")
  parser.add_argument("--json", help="also write the rows here")
  parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  if args.child:
    child(args)
    return 0
  whats = args.what.split(",")
  unknown = [what for what in whats if what not in WHATS]
  if unknown:
    parser.error("--what: choose from {}, got {}".format(WHATS, unknown))
  report = {}
  for what in whats:
    rows, wall, isa = run_child(args, what)
    shape = ("{0}x{0}x{0}".format(args.gemm_n) if what == "gemm"
             else "B={} T={}".format(args.batch_size, args.num_frames))
    print("\n## {} {} {}{}: {:.3f} s per run (wall, {} marked run(s)); oneDNN ISA: {}".format(
        what, args.dtype, shape, ", batch norm folded" if what == "forward" and args.fold_batch_norm else "",
        wall / args.runs, args.runs, isa))
    if args.env:
      print("environment: " + " ".join(args.env))
    print("\n" + markdown(rows, wall, args.runs), flush=True)
    report[what] = {"wall_seconds": wall, "runs": args.runs, "isa": isa, "env": args.env,
                    "rows": [dict(zip(("primitive", "implementation", "propagation", "types", "post_ops", "calls",
                                       "ms"), row)) for row in rows]}
  if args.json:
    with open(args.json, "w") as handle:
      json.dump(report, handle, indent=1)
  return 0


if __name__ == "__main__":
  sys.exit(main())

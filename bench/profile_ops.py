#!/usr/bin/env python
"""Where the time of the Jasper 5x3 forward pass (frozen graph) and training step goes: traced runs
(RunOptions FULL_TRACE) summed per op type (the kernel that ran, e.g. oneDNN's _MklNativeConv2D), the
slowest nodes, and the run's GFLOP/s from the analytic FLOP count (bench/flop_count.py).

Ops that run beside each other share the intra-op threads, so each one's own duration overstates its cost;
every moment of a traced run is therefore shared equally among the nodes running then (wall-attributed
time, which adds up to the traced run's busy time). Each node's time is its median over --traces runs.
--inter_op_threads 1 (default) runs one op at a time where TensorFlow can; 0 is its default setting.

    python bench/profile_ops.py [--what forward,train] [--dtype float32] [--export_dtype float32]
                                [--batch_size 8] [--num_frames 1600] [--top 15] [--json results/bench/profile.json]

--dtype is the training step's (float32, mixed, bfloat16), --export_dtype the frozen forward graph's
(generate_pb/ckpt2pb.py --dtype: float32, float16, bfloat16).
"""
import argparse
import collections
import json
import os
import re
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# TensorFlow reads TF_CPP_MIN_LOG_LEVEL once, when it is first imported
import numpy as np
import tensorflow.compat.v1 as tf

from bench.flop_count import (TRAIN_STEP_FORWARDS, config_forward_flops, encoder_convolutions,
                              layer_flops)
from open_seq2seq.utils.config import load_config_module

tf.disable_eager_execution()
FIVE_BY_THREE = "configs/speech2text/jasper5x3_LibriSpeech_nvgrad_masks_1p.py"
LABEL = re.compile(r"^(?:\[[^\]]*\] )?\S+ = ([\w.]+)\(")
CONV_KERNEL = re.compile(r"Conv2D")
# A conv node's layer (conv{b}{r} or conv{b}{r}/res[_i]; conv{b}{r}_1 is a last sub-block's main conv) and
# pass (forward, or the gradient with respect to the input or the filter).
# A folded graph's (export/ckpt2pb.py) convolutions are conv{b}{r}_1/Conv2D and conv{b}{r}/res[_i]_1/Conv2D; a fused
# one (bias, residual sum, ReLU) runs as a node named after its last fused op, so it has no layer here.
CONV_NODE = re.compile(r"w2l_encoder/(conv\d+)(?:_\d+)?(/res(?:_\d+)?)?(?:_\d+)?/(?:convolution|Conv2D)"
                       r"(?:_grad/Conv2DBackprop(Input|Filter))?$")
PASSES = {None: "forward", "Input": "grad input", "Filter": "grad filter"}


def traced_run(session, fetches, feed_dict=None, traces=3, untraced=2):
  """(RunMetadata of ``traces`` traced runs, median wall seconds of ``untraced`` plain runs after them)."""
  runs = []
  for _ in range(traces):
    metadata = tf.RunMetadata()
    session.run(fetches, feed_dict, options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE),
                run_metadata=metadata)
    runs.append(metadata)
  seconds = []
  for _ in range(untraced):
    start = time.perf_counter()
    session.run(fetches, feed_dict)
    seconds.append(time.perf_counter() - start)
  return runs, float(np.median(seconds))


def wall_attributed(intervals):
  """{key: microseconds} sharing every moment of the run equally among the nodes running then, so the
  values add up to the time in which any node ran (ops that run beside each other are not double counted)."""
  # At equal times starts sort first, so a zero-length node opens and closes without time passing.
  events = sorted([(start, 0, key) for key, start, _ in intervals] + [(end, 1, key) for key, _, end in intervals])
  attributed = collections.defaultdict(float)
  active, previous = set(), None
  for time_point, is_end, key in events:
    if active and previous is not None and time_point > previous:
      share = (time_point - previous) / len(active)
      for running in active:
        attributed[running] += share
    previous = time_point
    if is_end:
      active.discard(key)
    else:
      active.add(key)
  return attributed


def node_times(runs):
  """[(node name, op type that ran, own microseconds, wall-attributed microseconds)] of every node (all
  devices), each the median over the traced runs: the median drops a run in which a neighbour process
  slowed a node down."""
  own, attributed, op_types = collections.defaultdict(list), collections.defaultdict(list), {}
  for metadata in runs:
    intervals = []
    for device in metadata.step_stats.dev_stats:
      for node in device.node_stats:
        match = LABEL.match(node.timeline_label)
        key = (device.device, node.node_name)
        op_types[key] = match.group(1) if match else node.node_name
        own[key].append(node.all_end_rel_micros)
        intervals.append((key, node.all_start_micros, node.all_start_micros + node.all_end_rel_micros))
    shares = wall_attributed(intervals)
    for key, _, _ in intervals:
      attributed[key].append(shares.get(key, 0.0))
  return [(name, op_types[(device, name)], float(np.median(own[(device, name)])),
           float(np.median(attributed[(device, name)]))) for device, name in own]


def summarise(nodes, top):
  """Per-op-type totals (descending wall-attributed time), the ``top`` slowest nodes, the conv kernels' share."""
  by_type = collections.defaultdict(lambda: [0.0, 0.0, 0])
  for _, op_type, own, attributed in nodes:
    by_type[op_type][0] += own
    by_type[op_type][1] += attributed
    by_type[op_type][2] += 1
  total = sum(node[3] for node in nodes)
  conv = sum(node[3] for node in nodes if CONV_KERNEL.search(node[1]))
  types = sorted(by_type.items(), key=lambda item: -item[1][1])
  slowest = sorted(nodes, key=lambda n: -n[3])
  return {"traced_busy_seconds": total / 1e6,
          "by_type": [{"op": op, "seconds": attributed / 1e6, "own_seconds": own / 1e6, "share": attributed / total,
                       "count": count, "slowest_nodes": [[n[0], n[3] / 1e6] for n in slowest if n[1] == op][:5]}
                      for op, (own, attributed, count) in types],
          "slowest_nodes": [{"node": name, "op": op, "seconds": attributed / 1e6, "own_seconds": own / 1e6}
                            for name, op, own, attributed in slowest[:top]],
          "conv_seconds": conv / 1e6, "conv_share": conv / total}


def per_layer(nodes, config_module, batch_size, num_frames):
  """Rows (layer, k, C_in, C_out, {pass: (wall-attributed seconds, GFLOP/s)}) of every encoder conv."""
  seconds = collections.defaultdict(dict)
  for name, op_type, _, attributed in nodes:
    match = CONV_NODE.search(name)
    if match and CONV_KERNEL.search(op_type):
      seconds[match.group(1) + (match.group(2) or "")][PASSES[match.group(3)]] = attributed / 1e6
  base = config_module["base_params"]
  convolutions, _, _ = encoder_convolutions(base["encoder_params"]["convnet_layers"],
                                            base["data_layer_params"]["num_audio_features"], num_frames)
  rows = []
  for conv in convolutions:
    flops = batch_size * layer_flops(conv)
    passes = {kind: (s, flops / s / 1e9 if s else float("nan")) for kind, s in seconds[conv["name"]].items()}
    rows.append((conv["name"], conv["kernel"], conv["c_in"], conv["c_out"], passes))
  return rows


def layer_report(rows, peak):
  kinds = [kind for kind in PASSES.values() if any(kind in row[4] for row in rows)]
  lines = ["", "| layer | k | C_in | C_out | " + " | ".join("{} s | GFLOP/s".format(k) for k in kinds) + " |",
           "|---|---|---|---|" + "---|---|" * len(kinds)]
  for name, kernel, c_in, c_out, passes in rows:
    cells = []
    for kind in kinds:
      s, gflops = passes.get(kind, (float("nan"), float("nan")))
      cells.append("{:.3f} | {:.0f}{}".format(s, gflops, " ({:.0%})".format(gflops / peak) if peak else ""))
    lines.append("| {} | {} | {} | {} | {} |".format(name, kernel, c_in, c_out, " | ".join(cells)))
  return "\n".join(lines)


def session_config(inter_op_threads, inference=False):
  """The session settings of the profiled runs: ``inference`` the frozen graph's (distributed/session_config.py),
  else TensorFlow's defaults; with ``inter_op_threads`` (0: TensorFlow's default)."""
  from open_seq2seq.distributed.session_config import inference_session_config
  config = inference_session_config() if inference else tf.ConfigProto()
  config.inter_op_parallelism_threads = inter_op_threads
  return config


def profile_forward(config_file, batch_size, num_frames, inter_op_threads, traces, dtype="float32",
                    fold_batch_norm=True):
  from bench.bench_inference import freeze_random_model
  from open_seq2seq.export.frozen_model import read_frozen_graph
  from open_seq2seq.export.signature import FEATURES, FEATURES_LENGTH, LOGITS
  with tempfile.TemporaryDirectory() as tmp_dir:
    path = os.path.join(tmp_dir, "model.pb")
    freeze_random_model(config_file, path, dtype, fold_batch_norm)
    graph_def = read_frozen_graph(path)
  with tf.Graph().as_default() as graph:
    tf.import_graph_def(graph_def, name="")
    features = graph.get_tensor_by_name(FEATURES + ":0")
    rng = np.random.default_rng(0)
    feed = {features: rng.standard_normal([batch_size, num_frames, int(features.shape[-1])]).astype(np.float32),
            graph.get_tensor_by_name(FEATURES_LENGTH + ":0"): np.full([batch_size], num_frames, np.int32)}
    with tf.Session(config=session_config(inter_op_threads, inference=True)) as session:
      logits = graph.get_tensor_by_name(LOGITS + ":0")
      session.run(logits, feed)
      return traced_run(session, logits, feed, traces)


def profile_train(config_file, dtype, batch_size, num_frames, inter_op_threads, traces):
  from bench.bench_train_step import step_params
  config_module = load_config_module(config_file)
  with tf.Graph().as_default():
    model = config_module["base_model"](
        params=step_params(config_module, dtype, batch_size, num_frames, 10), mode="train")
    model.compile()
    with tf.Session(config=session_config(inter_op_threads)) as session:
      session.run([tf.global_variables_initializer(), model.get_data_layer().iterator.initializer])
      session.run(model.train_op)
      return traced_run(session, model.train_op, traces=traces)


def report(name, summary, wall, flops, peak, top):
  def of_peak(gflops):
    return " ({:.0%} of {:.0f} GFLOP/s peak)".format(gflops / peak, peak) if peak else ""

  lines = ["", "## {}: wall {:.3f} s untraced, {:.3f} s busy in the traced runs".format(
      name, wall, summary["traced_busy_seconds"]),
           "whole run: {:.0f} GFLOP/s{}".format(flops / wall / 1e9, of_peak(flops / wall / 1e9)),
           "conv kernels (forward and backward): {:.1%} of the busy time".format(summary["conv_share"]),
           "", "| op type | wall-attributed s | share | own s (overlaps) | nodes |", "|---|---|---|---|---|"]
  lines += ["| {} | {:.3f} | {:.1%} | {:.3f} | {} |".format(t["op"], t["seconds"], t["share"], t["own_seconds"],
                                                          t["count"]) for t in summary["by_type"][:top]]
  lines += ["", "| slowest node | op | wall-attributed s | own s |", "|---|---|---|---|"]
  lines += ["| {} | {} | {:.3f} | {:.3f} |".format(n["node"], n["op"], n["seconds"], n["own_seconds"])
            for n in summary["slowest_nodes"]]
  return "\n".join(lines)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--config_file", default=FIVE_BY_THREE)
  parser.add_argument("--what", default="forward,train")
  parser.add_argument("--dtype", default="float32", help="training step dtype: float32, mixed or bfloat16")
  parser.add_argument("--export_dtype", default="float32", help="frozen forward graph dtype: float32, float16 or "
                                                                "bfloat16")
  parser.add_argument("--fold_batch_norm", action=argparse.BooleanOptionalAction, default=True,
                      help="the forward graph with batch norm folded, as ckpt2pb.py exports it (default)")
  parser.add_argument("--batch_size", type=int, default=8)
  parser.add_argument("--num_frames", type=int, default=1600)
  parser.add_argument("--top", type=int, default=15)
  parser.add_argument("--peak_gflops", type=float, default=None, help="GEMM peak for the fractions")
  parser.add_argument("--inter_op_threads", type=int, default=1, help="0: TensorFlow's default")
  parser.add_argument("--traces", type=int, default=3)
  parser.add_argument("--json", help="also write the summaries here")
  args = parser.parse_args(argv)
  tf.logging.set_verbosity(tf.logging.ERROR)
  config_module = load_config_module(args.config_file)
  forward = config_forward_flops(config_module, args.batch_size, args.num_frames)
  results = {}
  for what in args.what.split(","):
    if what == "forward":
      runs, wall = profile_forward(args.config_file, args.batch_size, args.num_frames, args.inter_op_threads,
                                   args.traces, args.export_dtype, args.fold_batch_norm)
      flops, name = forward["total"], "forward {} (frozen)".format(args.export_dtype)
    elif what == "train":
      runs, wall = profile_train(args.config_file, args.dtype, args.batch_size, args.num_frames,
                                 args.inter_op_threads, args.traces)
      flops, name = TRAIN_STEP_FORWARDS * forward["total"], "training step " + args.dtype
    else:
      parser.error("--what: forward and/or train, got {!r}".format(what))
    nodes = node_times(runs)
    summary = summarise(nodes, args.top)
    layers = per_layer(nodes, config_module, args.batch_size, args.num_frames)
    summary.update(wall_seconds=wall, layers=layers)
    results[what] = summary
    print(report("{} B={} T={}".format(name, args.batch_size, args.num_frames), summary, wall, flops,
                 args.peak_gflops, args.top) + layer_report(layers, args.peak_gflops), flush=True)
  if args.json:
    with open(args.json, "w") as handle:
      json.dump(results, handle, indent=1)
  return 0


if __name__ == "__main__":
  sys.exit(main())

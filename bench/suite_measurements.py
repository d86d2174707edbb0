#!/usr/bin/env python
"""The measurements of bench/run_suite.py, each run in a child process of its own (a crash or a time-out
costs that measurement only, and every one starts with a fresh TensorFlow runtime):

    python bench/suite_measurements.py NAME '{"param": value, ...}' RESULT.json

NAME is a key of MEASUREMENTS; the result is a JSON object. Every timed loop waits for an idle CPU first,
records each iteration's utilisation (process CPU time / (wall time x cores), see cpu_budget.py) and keeps
the iterations within RELATIVE_UTILISATION of the best one: a neighbour that takes CPU time lowers the
utilisation of the iterations it slows, while a workload that cannot fill every core (batch 1) keeps all of
its undisturbed iterations. The median of the kept wall times is the result.
"""
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# TensorFlow reads TF_CPP_MIN_LOG_LEVEL once, when it is first imported
import numpy as np
import tensorflow.compat.v1 as tf

from bench.cpu_budget import timed_iterations, wait_for_idle_cpu

tf.disable_eager_execution()
RELATIVE_UTILISATION = 0.9


def log(message):
  print(message, flush=True)


def summary(seconds, utilisation, iterations, load):
  """The summary dict of ``timing`` from the wall ``seconds`` and ``utilisation`` of each timed run."""
  best = max(utilisation) if utilisation else 0.0
  kept = [s for s, u in zip(seconds, utilisation) if u >= RELATIVE_UTILISATION * best]
  kept_utilisation = [u for u in utilisation if u >= RELATIVE_UTILISATION * best]
  log("  wall s {} utilisation {}".format(["{:.3f}".format(s) for s in seconds],
                                          ["{:.2f}".format(u) for u in utilisation]))
  return {"seconds": float(np.median(kept)) if kept else float("nan"), "kept": len(kept), "iterations": iterations,
          "all_seconds": seconds, "utilisation": utilisation,
          "kept_utilisation": float(np.median(kept_utilisation)) if kept_utilisation else float("nan"),
          "load_before": load}


def timing(step, iterations, warmup=1, idle_timeout_s=60):
  """Times ``step()`` after ``warmup`` untimed calls; returns the summary dict every measurement reports."""
  load = wait_for_idle_cpu(timeout_s=idle_timeout_s)
  for _ in range(warmup):
    step()
  seconds, utilisation = timed_iterations(step, iterations, min_utilisation=0.0)
  return summary(seconds, utilisation, iterations, load)


def measure_gemm(n=4096, dtype="float32", iterations=5, idle_timeout_s=60):
  """``n``^3 matmul of two variables (float32 or bfloat16), run as a target so no output is copied out."""
  with tf.Graph().as_default():
    rng = np.random.default_rng(0)
    values = [rng.standard_normal([n, n]).astype(np.float32) for _ in range(2)]
    a, b = (tf.Variable(tf.cast(v, tf.as_dtype(dtype))) for v in values)
    product = tf.matmul(a, b)
    with tf.Session() as session:
      session.run(tf.global_variables_initializer())
      result = timing(lambda: session.run(product.op), iterations, warmup=2, idle_timeout_s=idle_timeout_s)
  result["flops"] = 2 * n ** 3
  result["gflops_per_s"] = result["flops"] / result["seconds"] / 1e9
  log("  {} GEMM {}^3: {:.1f} GFLOP/s".format(dtype, n, result["gflops_per_s"]))
  return result


def timing_in_turns(steps, iterations, warmup=1, idle_timeout_s=60):
  """Times each of ``steps`` ({label: step()}) ``iterations`` times, one run of each in turn per round (after
  ``warmup`` untimed calls of each), so a neighbour's load falls on all of them alike; {label: summary dict}."""
  load = wait_for_idle_cpu(timeout_s=idle_timeout_s)
  for step in steps.values():
    for _ in range(warmup):
      step()
  runs = {label: ([], []) for label in steps}
  for _ in range(iterations):
    for label, step in steps.items():
      seconds, utilisation = timed_iterations(step, 1, min_utilisation=0.0)
      runs[label][0].extend(seconds)
      runs[label][1].extend(utilisation)
  results = {}
  for label, (seconds, utilisation) in runs.items():
    log("  {}:".format(label))
    results[label] = summary(seconds, utilisation, iterations, load)
  return results


def measure_forward(config_file, batch_sizes=(1, 8), num_frames=1600, iterations=3, idle_timeout_s=60,
                    dtypes=("float32",)):
  """The config's frozen inference graph exported in each of ``dtypes`` (random weights, as bench_inference.py;
  run with the inference session settings) per batch size, the dtypes timed in turns.

  Returns ``{dtype: {str(batch_size): timing summary}}``.
  """
  from bench.bench_inference import freeze_random_model
  from open_seq2seq.distributed.session_config import inference_session_config
  from open_seq2seq.export.frozen_model import FrozenJasper
  tf.logging.set_verbosity(tf.logging.ERROR)
  results = {dtype: {} for dtype in dtypes}
  models = {}
  with tempfile.TemporaryDirectory() as tmp_dir:
    try:
      for dtype in dtypes:
        path = os.path.join(tmp_dir, "model_{}.pb".format(dtype))
        start = time.perf_counter()
        freeze_random_model(config_file, path, dtype)
        log("  froze {} {} in {:.0f} s".format(os.path.basename(config_file), dtype, time.perf_counter() - start))
        models[dtype] = FrozenJasper(path, inference_session_config())
      rng = np.random.default_rng(0)
      for batch_size in batch_sizes:
        num_features = models[dtypes[0]].num_features
        features = [rng.standard_normal([num_frames, num_features]).astype(np.float32) for _ in range(batch_size)]
        log("  batch {}".format(batch_size))
        steps = {dtype: (lambda model=model, features=features: model.run(features))
                 for dtype, model in models.items()}
        timed = timing_in_turns(steps, iterations, idle_timeout_s=idle_timeout_s)
        for dtype, result in timed.items():
          results[dtype][str(batch_size)] = result
    finally:
      for model in models.values():
        model.close()
  return results


def measure_train_step(config_file, dtype="float32", batch_size=8, num_frames=1600, steps=2, idle_timeout_s=60):
  """One training step of the config on synthetic fixed-shape batches (bench_train_step.py's parameters)."""
  from bench.bench_train_step import step_params
  from open_seq2seq.utils.config import load_config_module
  tf.logging.set_verbosity(tf.logging.ERROR)
  config_module = load_config_module(config_file)
  with tf.Graph().as_default():
    start = time.perf_counter()
    model = config_module["base_model"](
        params=step_params(config_module, dtype, batch_size, num_frames, steps + 2), mode="train")
    model.compile()
    with tf.Session() as session:
      session.run([tf.global_variables_initializer(), model.get_data_layer().iterator.initializer])
      log("  built the {} graph in {:.0f} s".format(dtype, time.perf_counter() - start))
      result = timing(lambda: session.run(model.train_op), steps, idle_timeout_s=idle_timeout_s)
  log("  {} B={} T={}: {:.2f} s per step".format(dtype, batch_size, num_frames, result["seconds"]))
  return result


def measure_pipeline(config_file, corpus_csv, batch_size=8, batches=10, idle_timeout_s=60):
  """Batches of the config's training data layer (bench_pipeline.py: mini-corpus utterances joined to 8-16 s,
  the config's features, SpecAugment and padding), read on all cores with no model attached."""
  from bench.bench_pipeline import training_params, write_long_utterances
  with tempfile.TemporaryDirectory() as out_dir:
    manifest = write_long_utterances(corpus_csv, out_dir, count=4 * batch_size)
    params = training_params(config_file, manifest, batch_size, 1, tf.float32)
    data_params = dict(params["data_layer_params"], mode="train", batch_size=batch_size, random_seed=0)
    with tf.Graph().as_default():
      data_layer = params["data_layer"](data_params, None)
      data_layer.build_graph()
      with tf.Session() as session:
        session.run(data_layer.iterator.initializer)
        result = timing(lambda: session.run(data_layer.input_tensors), batches, warmup=3,
                        idle_timeout_s=idle_timeout_s)
  log("  data pipeline batch {}: {:.3f} s per batch".format(batch_size, result["seconds"]))
  return result


MEASUREMENTS = {
    "gemm": measure_gemm,
    "forward": measure_forward,
    "train_step": measure_train_step,
    "pipeline": measure_pipeline,
}


def main(argv=None):
  argv = sys.argv[1:] if argv is None else argv
  if len(argv) != 3 or argv[0] not in MEASUREMENTS:
    sys.stderr.write(__doc__ + "\nNAME: one of {}\n".format(", ".join(MEASUREMENTS)))
    return 2
  name, params, output = argv[0], json.loads(argv[1]), argv[2]
  result = MEASUREMENTS[name](**params)
  with open(output, "w") as handle:
    json.dump(result, handle)
  return 0


if __name__ == "__main__":
  sys.exit(main())

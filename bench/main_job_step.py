#!/usr/bin/env python
"""Where a main-job training step goes on the cores it shares, and how many seconds of audio it trains per
wall-second.

The main job's step (the mini config in the precision the main job picks on this CPU, real corpus) runs the
input pipeline (tf.data threads computing each utterance in numpy: reading, waveform augmentation, log-mel
features with VTLP and dither, SpecAugment) beside the model (forward pass, CTC loss, gradients, weight
update) on the same cores. Measured here:

1. pipeline CPU per utterance per stage (thread CPU time of each stage, utterance by utterance), and the
   pipeline alone per batch (process CPU time, tf.data and batching included);
2. the training step with the live pipeline, as the training loop runs it (the train op with the loss and
   gradient flags its hooks fetch), each variant in turns (``--rounds``), after the length buckets have partly filled
   (``--fill_batches``): wall and process CPU per step, audio-seconds trained per wall-second (feature frames x
   window stride, after speed perturbation) as a ratio to the first variant, and the share of the computed
   frames that are real (not padding);
3. the model's part of the step from traced runs (bench/profile_ops.py's wall-attributed node times), split
   into convolutions forward and backward, CTC loss, batch norm, the weight update (optimizer, moving averages,
   float32 master copies, finiteness checks), waiting for input, and other ops.

The CPU share of each part of a step: the pipeline stages as measured in 1 (per utterance x batch size, the
rest of the pipeline-alone CPU as "tf.data and batching"), the model's parts sharing the step's remaining
process CPU in proportion to their traced time.

Variants (``--variants``): ``no_augmentation`` (the step as issue 17 first measured it: features, speed
perturbation off, no SpecAugment), ``main_job`` (the config's training augmentation), ``main_job_blas_per_core``
(the main job with numpy's BLAS at its default thread count, one per core, as it ran before the data layer held it
to one thread) and ``main_job_op_by_op_update`` (the main job without the fused NovoGrad kernel,
``JASPER_FUSED_UPDATE=0``). The first variant listed is the baseline of the throughput ratios.

    JASPER_MINI_CORPUS=DIR python bench/main_job_step.py [--steps 100] [--rounds 3] [--utterances 200]
                                                         [--json results/bench/main_job_step.json]
"""
import argparse
import collections
import contextlib
import json
import os
import sys
import time
from unittest import mock

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# TensorFlow reads TF_CPP_MIN_LOG_LEVEL once, when it is first imported
import numpy as np
import tensorflow.compat.v1 as tf
from threadpoolctl import threadpool_info, threadpool_limits

from bench.cpu_budget import process_cpu_time, thread_cpu_time, wait_for_idle_cpu
from bench.profile_ops import node_times, traced_run
from open_seq2seq.data.speech2text import speech2text
from open_seq2seq.optimizers import fused_update
from open_seq2seq.optimizers.optimize_loss import NONFINITE_GRADIENTS, ZERO_GRADIENTS
from open_seq2seq.utils.config import load_config_module, mode_config

tf.disable_eager_execution()
MINI = "configs/speech2text/jasper_mini_nvgrad_masks.py"
VARIANTS = ("no_augmentation", "main_job", "main_job_blas_per_core", "main_job_op_by_op_update")
# numpy's BLAS threads when this module is imported, before any data layer limits them (OPENBLAS_NUM_THREADS or
# one per core)
DEFAULT_BLAS_THREADS = max([info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"] or [1])
PIPELINE_STAGES = ("read", "waveform augmentation", "features (VTLP, dither)", "SpecAugment")
MODEL_PARTS = ("conv forward", "conv backward", "CTC loss", "batch norm", "weight update", "waiting for input",
               "other ops")


def model_part(node_name, op_type):
  """The part of a training step (one of MODEL_PARTS) that a traced node belongs to, from its name and the op
  type that ran (e.g. ``_MklNativeConv2DBackpropFilter``)."""
  if "Conv2D" in op_type:
    return "conv backward" if "Backprop" in op_type else "conv forward"
  if op_type.startswith("CTC") or op_type == "JasperCtcLoss":
    return "CTC loss"
  if "BatchNorm" in op_type:
    return "batch norm"
  if op_type == "IteratorGetNext":
    return "waiting for input"
  if node_name.startswith("Loss_Optimization/") and "/gradients/" not in node_name:
    return "weight update"
  if "ExponentialMovingAverage" in node_name:
    return "weight update"
  return "other ops"


def step_shares(step_cpu, pipeline_cpu, stage_cpu, model_seconds):
  """{part: CPU seconds per step}: the pipeline stages ``stage_cpu`` ({stage: seconds per batch}) plus the
  rest of ``pipeline_cpu`` (the pipeline alone per batch) as "tf.data and batching"; the model's parts share
  ``step_cpu - pipeline_cpu`` in proportion to ``model_seconds`` ({part: traced seconds})."""
  shares = dict(stage_cpu)
  shares["tf.data and batching"] = max(0.0, pipeline_cpu - sum(stage_cpu.values()))
  model_cpu = max(0.0, step_cpu - pipeline_cpu)
  traced = sum(model_seconds.values())
  for part, seconds in model_seconds.items():
    shares[part] = model_cpu * seconds / traced if traced else 0.0
  return shares


def variant_params(config_module, variant, dtype, max_steps):
  """The mini config's training params for ``variant`` (VARIANTS), without logging or checkpoints."""
  params = mode_config(config_module, "train")
  params.update(dtype=dtype, max_steps=max_steps, logdir="", print_loss_steps=None, print_samples_steps=None,
                save_summaries_steps=None, save_checkpoint_steps=None)
  if variant == "no_augmentation":
    params["data_layer_params"]["augmentation"] = None
  return params


@contextlib.contextmanager
def update_path(variant):
  """The weight update ``variant`` builds: op by op for ``main_job_op_by_op_update``, else as the environment
  says (the fused kernel by default)."""
  environment = {fused_update.ENABLE_ENV: "0"} if variant == "main_job_op_by_op_update" else {}
  with mock.patch.dict(os.environ, environment):
    fused_update.reset()
    try:
      yield
    finally:
      fused_update.reset()


def blas_threads(variant):
  """numpy's BLAS threads while ``variant`` runs: the data layer's one, or the default for
  ``main_job_blas_per_core``."""
  return DEFAULT_BLAS_THREADS if variant == "main_job_blas_per_core" else 1


class _StageClock:
  """Thread CPU seconds (and those of the child processes they wait for) spent inside wrapped callables, per
  stage."""

  def __init__(self):
    self.seconds = collections.Counter()

  def wrap(self, stage, function):
    def timed(*args, **kwargs):
      start = thread_cpu_time()
      try:
        return function(*args, **kwargs)
      finally:
        self.seconds[stage] += thread_cpu_time() - start
    return timed


class _TimedAugmenter:
  """The data layer's SignalAugmenter with its call timed (its other attributes passed through)."""

  def __init__(self, augmenter, timed_call):
    self._augmenter, self._timed_call = augmenter, timed_call

  def __call__(self, *args, **kwargs):
    return self._timed_call(*args, **kwargs)

  def __getattr__(self, name):
    return getattr(self._augmenter, name)


def pipeline_stage_cpu(data_layer, utterances, seed=0):
  """({stage: CPU seconds per utterance}, audio seconds per utterance) over ``utterances`` rows drawn at random,
  each computed as the training pipeline computes it (``features_of``), one at a time in this thread."""
  clock = _StageClock()
  data_layer._read = clock.wrap("read", data_layer._read)
  data_layer._compute_features = clock.wrap("features (VTLP, dither)", data_layer._compute_features)
  if data_layer._augmenter is not None:
    data_layer._augmenter = _TimedAugmenter(data_layer._augmenter,
                                            clock.wrap("waveform augmentation", data_layer._augmenter.__call__))
  rows = np.random.default_rng(seed).choice(data_layer.get_size_in_samples(), size=utterances)
  audio = 0.0
  with mock.patch.object(speech2text, "spec_augment", clock.wrap("SpecAugment", speech2text.spec_augment)):
    for row in rows:
      audio += data_layer.features_of(int(row), int(row))[1]
  return {stage: clock.seconds[stage] / utterances for stage in PIPELINE_STAGES}, audio / utterances


def pipeline_alone(config_module, params, batches, blas=1):
  """Process CPU seconds and wall seconds per batch of the training data layer alone (no model), with ``blas``
  BLAS threads."""
  with tf.Graph().as_default():
    model = config_module["base_model"](params=params, mode="train")
    data_layer = model.get_data_layer()
    data_layer.build_graph()
    threadpool_limits(blas, user_api="blas")
    features = data_layer.input_tensors["source_tensors"]
    with tf.Session() as session:
      session.run(data_layer.iterator.initializer)
      session.run(features)
      cpu, wall = process_cpu_time(), time.perf_counter()
      for _ in range(batches):
        session.run(features)
      return (process_cpu_time() - cpu) / batches, (time.perf_counter() - wall) / batches


def loop_fetches(model):
  """What run.py's training loop fetches every step: the train op, and NonFiniteLossHook's loss and its
  non-finite and all-zero gradient flags (the latter computed only when fetched)."""
  return [model.train_op, model.loss, *tf.get_collection(NONFINITE_GRADIENTS), *tf.get_collection(ZERO_GRADIENTS)]


def training_steps(config_module, params, warmup, steps, traces, blas=1, fill_batches=0):
  """One round of ``steps`` training steps with the live pipeline (``blas`` BLAS threads) after ``fill_batches``
  batches drawn without training and ``warmup`` steps:
  {wall, cpu (process seconds per step), audio (seconds per step), real_share (utterance frames over the padded
  frames the step computes on), model (traced seconds per MODEL_PARTS part)}."""
  with tf.Graph().as_default():
    model = config_module["base_model"](params=params, mode="train")
    model.compile()
    threadpool_limits(blas, user_api="blas")
    data_layer = model.get_data_layer()
    features, lengths = data_layer.input_tensors["source_tensors"]
    batch_frames = tf.reduce_prod(tf.shape(features)[:2])
    frame_seconds = data_layer.params["window_stride"]
    with tf.Session() as session:
      fetches = loop_fetches(model)
      session.run([tf.global_variables_initializer(), data_layer.iterator.initializer])
      # Length buckets hold back the utterances of the rarer lengths until a batch of them is complete: from a
      # fresh iterator the first batches are the common lengths', which would bias a short timed window (finer
      # buckets hold back more, the long tail most).
      for _ in range(fill_batches):
        session.run(lengths)
      for _ in range(warmup):
        session.run(fetches)
      frames = padded = 0
      cpu, wall = process_cpu_time(), time.perf_counter()
      for _ in range(steps):
        _, step_lengths, step_padded = session.run([fetches, lengths, batch_frames])
        frames, padded = frames + int(np.sum(step_lengths)), padded + int(step_padded)
      result = {"wall": (time.perf_counter() - wall) / steps, "cpu": (process_cpu_time() - cpu) / steps,
                "audio": frames * frame_seconds / steps, "real_share": frames / padded}
      runs, _ = traced_run(session, fetches, traces=traces, untraced=1)
  parts = collections.Counter()
  for name, op_type, _, attributed in node_times(runs):
    parts[model_part(name, op_type)] += attributed / 1e6
  result["model"] = {part: parts[part] for part in MODEL_PARTS}
  return result


def median_round(rounds):
  """The round with the median wall time per step."""
  return sorted(rounds, key=lambda r: r["wall"])[len(rounds) // 2]


def report(results, batch_size, cores):
  """Markdown: throughput per variant (ratio to the first), and the CPU share of each part of a step."""
  def throughput(result):
    step = median_round(result["rounds"])
    return step["audio"] / step["wall"]

  baseline = next(iter(results))
  lines = ["| variant | s per step (rounds) | audio s per step | real / padded frames | audio s per wall s | vs {} "
           "| CPU use of {} cores |".format(baseline, cores), "|---|---|---|---|---|---|---|"]
  for variant, result in results.items():
    step = median_round(result["rounds"])
    lines.append("| {} | {:.3f} ({}) | {:.1f} | {:.3f} | {:.0f} | {:.2f}x | {:.0%} |".format(
        variant, step["wall"], ", ".join("{:.3f}".format(r["wall"]) for r in result["rounds"]), step["audio"],
        step["real_share"], throughput(result), throughput(result) / throughput(results[baseline]),
        step["cpu"] / step["wall"] / cores))
  for variant, result in results.items():
    step = median_round(result["rounds"])
    stage_cpu = {stage: seconds * batch_size for stage, seconds in result["stages"].items()}
    shares = step_shares(step["cpu"], result["pipeline_cpu"], stage_cpu, step["model"])
    total = sum(shares.values())
    lines += ["", "{}: CPU of one step, {:.3f} s (pipeline {:.3f} s per batch alone, {:.1f} ms per "
                  "utterance in its stages)".format(variant, step["cpu"], result["pipeline_cpu"],
                                                    1e3 * sum(result["stages"].values())),
              "", "| part | CPU s per step | share |", "|---|---|---|"]
    for part, seconds in shares.items():
      lines.append("| {} | {:.4f} | {:.1%} |".format(part, seconds, seconds / total if total else 0.0))
  return "\n".join(lines)


def main_job_dtype(cpuinfo="/proc/cpuinfo"):
  """The precision scripts/run_mini_demo.sh trains in on the CPU ``cpuinfo`` describes: bfloat16 where it is
  native (AVX512-BF16 or AMX), else float32 (TensorFlow emulates bfloat16 convolutions elsewhere, several times
  slower)."""
  try:
    with open(cpuinfo) as handle:
      flags = set(handle.read().split())
  except OSError:
    return "float32"
  return "bfloat16" if flags & {"avx512_bf16", "amx_bf16"} else "float32"


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--config_file", default=MINI)
  parser.add_argument("--dtype", default=main_job_dtype(),
                      help="default: the main job's choice on this CPU (scripts/run_mini_demo.sh)")
  parser.add_argument("--variants", default=",".join(VARIANTS))
  parser.add_argument("--steps", type=int, default=100, help="timed steps per round")
  parser.add_argument("--fill_batches", type=int, default=300,
                      help="batches drawn before the warm-up steps, so the length buckets near their steady mix")
  parser.add_argument("--warmup", type=int, default=30, help="steps before timing (new batch shapes cost more)")
  parser.add_argument("--rounds", type=int, default=3, help="rounds, the variants timed in turns in each")
  parser.add_argument("--traces", type=int, default=3, help="traced steps per round")
  parser.add_argument("--utterances", type=int, default=200, help="utterances timed stage by stage")
  parser.add_argument("--pipeline_batches", type=int, default=30, help="batches of the pipeline alone")
  parser.add_argument("--json", help="also write the measurements here")
  args = parser.parse_args(argv)
  for name in ("steps", "rounds", "traces", "utterances", "pipeline_batches"):
    if getattr(args, name) < 1:
      parser.error("--{} must be >= 1, got {}".format(name, getattr(args, name)))
  for name in ("warmup", "fill_batches"):
    if getattr(args, name) < 0:
      parser.error("--{} must be >= 0, got {}".format(name, getattr(args, name)))
  variants = args.variants.split(",")
  unknown = [variant for variant in variants if variant not in VARIANTS]
  if unknown or not variants:
    parser.error("--variants: some of {}, got {!r}".format(",".join(VARIANTS), args.variants))
  tf.logging.set_verbosity(tf.logging.ERROR)
  config_module = load_config_module(args.config_file)
  max_steps = args.warmup + args.steps + args.traces + 10
  params = {variant: variant_params(config_module, variant, args.dtype, max_steps) for variant in variants}
  results = {variant: {"rounds": []} for variant in variants}
  for variant in variants:
    with tf.Graph().as_default():
      data_layer = config_module["base_model"](params=params[variant], mode="train").get_data_layer()
      threadpool_limits(blas_threads(variant), user_api="blas")
      results[variant]["stages"], results[variant]["utterance_seconds"] = pipeline_stage_cpu(data_layer,
                                                                                             args.utterances)
    wait_for_idle_cpu()
    results[variant]["pipeline_cpu"], results[variant]["pipeline_wall"] = pipeline_alone(
        config_module, params[variant], args.pipeline_batches, blas_threads(variant))
    print("{}: pipeline {:.1f} ms CPU per utterance in its stages, {:.3f} s CPU per batch alone".format(
        variant, 1e3 * sum(results[variant]["stages"].values()), results[variant]["pipeline_cpu"]), flush=True)
  for round_index in range(args.rounds):
    for variant in variants:
      load = wait_for_idle_cpu()
      with update_path(variant):
        step = training_steps(config_module, params[variant], args.warmup, args.steps, args.traces,
                              blas_threads(variant), args.fill_batches)
      step["load_before"] = load
      results[variant]["rounds"].append(step)
      print("round {} {}: {:.3f} s per step, {:.0f} audio s per wall s, CPU {:.3f} s per step, {:.3f} of the "
            "frames real".format(round_index + 1, variant, step["wall"], step["audio"] / step["wall"], step["cpu"],
                                 step["real_share"]), flush=True)
  batch_size = params[variants[0]]["batch_size_per_gpu"]
  print("\n{} {}, batch {}, {} cores, TensorFlow {}, BLAS threads by default {}\n".format(
      os.path.basename(args.config_file), args.dtype, batch_size, os.cpu_count(), tf.__version__,
      DEFAULT_BLAS_THREADS))
  print(report(results, batch_size, os.cpu_count()))
  if args.json:
    with open(args.json, "w") as handle:
      json.dump(results, handle, indent=1)
  return 0


if __name__ == "__main__":
  sys.exit(main())

#!/usr/bin/env python
"""Entry point: ``run.py --config_file=CONFIG --mode=train|eval|infer|train_eval [--key=value ...]``."""
import argparse
import os
import pprint
import signal
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class StartupInterrupted(BaseException):
  """SIGINT/SIGTERM outside the training or evaluation loop (while the graph is built, the audio scanned, the
  checkpoint checked): no step was running. A BaseException, like KeyboardInterrupt, so that no ``except
  Exception`` on the way swallows it."""

  def __init__(self, signal_number):
    self.exit_code = 128 + signal_number
    super().__init__("Stopped by {} outside the training or evaluation loop; no step was interrupted".format(
        signal.Signals(signal_number).name))


def _exit_while_importing(signal_number, frame):
  """Ends the process at once: nothing has been written while the modules are imported, and an exception
  raised inside an import could be caught by the imported library."""
  del frame
  sys.stderr.write("*** {}\n".format(StartupInterrupted(signal_number)))
  sys.stderr.flush()
  os._exit(128 + signal_number)


def _raise_while_starting(signal_number, frame):
  del frame
  raise StartupInterrupted(signal_number)


def _install_stop_handlers(handler):
  """SIGINT/SIGTERM call ``handler`` (a SIGINT ignored by the parent, as under nohup, stays ignored)."""
  for number in (signal.SIGINT, signal.SIGTERM):
    if signal.getsignal(number) != signal.SIG_IGN:
      signal.signal(number, handler)


if __name__ == "__main__":
  # Before the slow imports: SIGINT would end in a KeyboardInterrupt traceback, SIGTERM without a word.
  _install_stop_handlers(_exit_while_importing)

import tensorflow.compat.v1 as tf

from open_seq2seq.describe import describe_part
from open_seq2seq.distributed.workers import init_workers
from open_seq2seq.training.evaluate import evaluate, infer
from open_seq2seq.training.hooks import NonFiniteLossError
from open_seq2seq.training.stop_signals import (DEFAULT_GRACE_SECONDS, RunInterrupted,
                                                StopOnSignal, TrainingInterrupted)
from open_seq2seq.training.train import train
from open_seq2seq.utils.config import (apply_cli_overrides, load_config_module,
                                       mode_config)
from open_seq2seq.utils.checkpoint import repair_checkpoint_state, resolve_checkpoint
from open_seq2seq.utils.logdir import check_logdir, checkpoint_dir, create_logdir
from open_seq2seq.utils.logging import deco_print, set_console_output
from open_seq2seq.utils.params import with_defaults

MODES = ["train", "eval", "train_eval", "infer", "interactive_infer"]


def build_parser():
  parser = argparse.ArgumentParser(description="Jasper / OpenSeq2Seq speech recognition", allow_abbrev=False)
  parser.add_argument("--config_file", help="Python config module (required unless --describe)")
  parser.add_argument("--describe", metavar="PART",
                      help="print every parameter of a part as configs name it (Speech2Text, TDNNEncoder, NovoGrad, "
                           "poly_decay, augmentation, ...): type or allowed values, default, one-line doc; and exit")
  parser.add_argument("--mode", default="train", help="one of " + ", ".join(MODES[:-1]))
  parser.add_argument("--infer_output_file", default="infer-out.txt", help="CSV written by --mode=infer")
  parser.add_argument("--continue_learning", action="store_true",
                      help="train into a non-empty logdir, resuming from its latest checkpoint")
  parser.add_argument("--resume_if_exists", action="store_true",
                      help="resume from the logdir's latest checkpoint when it has one, train from scratch when the "
                           "logdir is empty or missing (NeMo's resume_if_exists)")
  parser.add_argument("--no_dir_check", action="store_true", help="turn logdir errors into warnings")
  parser.add_argument("--benchmark", action="store_true", help="short timing run, no checkpoints")
  parser.add_argument("--bench_steps", type=int, default=20, help="steps of a --benchmark run")
  parser.add_argument("--bench_start", type=int, help="first step counted for timing")
  parser.add_argument("--debug_port", type=int, help="TensorBoard debugger port")
  parser.add_argument("--enable_logs", action="store_true",
                      help="save config, command line, git state and console output under logdir")
  parser.add_argument("--use_xla_jit", action="store_true", help="XLA JIT compilation")
  parser.add_argument("--stop_grace_secs", type=float, default=DEFAULT_GRACE_SECONDS,
                      help="after SIGINT/SIGTERM, seconds the running step may take before the process is ended "
                           "without a final checkpoint")
  return parser


def declared(config_module, params, key):
  """``params[key]``, or the default that the config's model class declares for it."""
  return with_defaults(params, config_module["base_model"].get_optional_params())[key]


def apply_benchmark(config_module, train_params, args):
  train_params.update(print_samples_steps=None, print_loss_steps=1, save_summaries_steps=None,
                      save_checkpoint_steps=None, logdir="", max_steps=args.bench_steps)
  train_params.pop("num_epochs", None)
  train_params["bench_start"] = args.bench_start or declared(config_module, train_params, "bench_start")


def create_models(config_module, mode, args, workers=None):
  base_model = config_module["base_model"]
  if mode == "train_eval":
    train_params = mode_config(config_module, "train")
    eval_params = mode_config(config_module, "eval")
    deco_print("Training config:")
    deco_print(pprint.pformat(train_params), offset=2)
    train_model = base_model(params=train_params, mode="train", hvd=workers)
    train_model.compile()
    eval_model = base_model(params=eval_params, mode="eval", hvd=workers)
    eval_model.compile(force_var_reuse=True)
    return train_model, eval_model
  params = mode_config(config_module, mode)
  if mode == "train" and args.benchmark:
    apply_benchmark(config_module, params, args)
  deco_print({"train": "Training config:", "eval": "Evaluation config:", "infer": "Inference config:"}[mode])
  deco_print(pprint.pformat(params), offset=2)
  model = base_model(params=params, mode=mode, hvd=workers)
  model.compile()
  return model, None


def main(argv=None):
  argv = sys.argv[1:] if argv is None else argv
  parser = build_parser()
  args, overrides = parser.parse_known_args(argv)
  if args.describe:
    print(describe_part(args.describe))
    return None
  if not args.config_file:
    parser.error("the following arguments are required: --config_file")
  if args.mode not in MODES:
    raise ValueError("Mode has to be one of {}, got '{}'".format(", ".join(MODES[:-1]), args.mode))
  if args.mode == "interactive_infer":
    raise ValueError("Interactive infer is meant to be run from an IPython notebook, not from run.py")
  if args.benchmark:
    args.no_dir_check = True
    args.mode = "train"
  tf.disable_eager_execution()
  tf.logging.set_verbosity(tf.logging.ERROR)
  config_module = load_config_module(args.config_file)
  base_params = config_module["base_params"]
  base_params["use_xla_jit"] = args.use_xla_jit or declared(config_module, base_params, "use_xla_jit")
  apply_cli_overrides(base_params, overrides, args.config_file)
  workers = init_workers() if base_params.get("use_horovod") else None
  master = workers is None or workers.rank() == 0
  set_console_output(master)
  if workers is not None:
    deco_print("Data-parallel run: {} workers".format(workers.size()))
  logdir = declared(config_module, base_params, "logdir")
  if not logdir and not args.benchmark:
    raise ValueError("Config {} sets no 'logdir'".format(args.config_file))

  if master and base_params.get("load_model"):
    resolve_checkpoint(base_params["load_model"], "load_model")
  checkpoint = None
  if master and args.mode in ("train", "train_eval") and not args.benchmark and (
      args.continue_learning or args.resume_if_exists or args.no_dir_check):
    # A run killed while saving must resume from its newest checkpoint that restores completely (with
    # --no_dir_check too, training resumes from a logdir's checkpoint).
    repair_checkpoint_state(checkpoint_dir(logdir, args.enable_logs))
  # Rank 0 alone checks a training logdir: the others could see the files it has just started to write.
  if not args.benchmark and (master or args.mode in ("eval", "infer")):
    restore_best = declared(config_module, mode_config(config_module, "eval" if args.mode != "train" else "train"),
                            "restore_best_checkpoint")
    try:
      checkpoint = check_logdir(args.mode, logdir, args.enable_logs, args.continue_learning, restore_best,
                                args.resume_if_exists)
    except IOError as error:
      if not args.no_dir_check:
        raise
      deco_print("Warning: {}".format(error))
      deco_print("Resuming operation since no_dir_check argument was provided")
  if args.enable_logs and not args.benchmark:
    if master:
      create_logdir(logdir, args.config_file, [sys.argv[0]] + argv, os.path.dirname(os.path.abspath(__file__)))
    base_params["logdir"] = checkpoint_dir(logdir, True)

  if args.mode in ("train", "train_eval"):
    if base_params.get("load_model") and checkpoint is None:
      deco_print("Starting training from the base model")
    elif checkpoint is None:
      deco_print("Starting training from scratch")
    else:
      deco_print("Restored checkpoint from {}. Resuming training".format(checkpoint))
  elif checkpoint is None:
    raise IOError("--mode={} needs a trained checkpoint; there is none in {}".format(args.mode, logdir))
  else:
    deco_print("Loading model from {}".format(checkpoint))

  with tf.Graph().as_default():
    model, eval_model = create_models(config_module, args.mode, args, workers)
    if args.mode in ("train", "train_eval"):
      train(model, eval_model, debug_port=args.debug_port,
            custom_hooks=declared(config_module, mode_config(config_module, "train"), "hooks"),
            stop_grace_seconds=args.stop_grace_secs)
      return None
    with StopOnSignal(args.stop_grace_secs, stops_evaluation=True) as stop:
      result = evaluate(model, checkpoint) if args.mode == "eval" else infer(model, checkpoint,
                                                                             args.infer_output_file)
    if stop.received is not None:
      raise RunInterrupted(stop.received, "Evaluation" if args.mode == "eval" else "Inference", finished=True)
    return result


if __name__ == "__main__":
  _install_stop_handlers(_raise_while_starting)
  try:
    main()
  except (TrainingInterrupted, RunInterrupted, StartupInterrupted) as interruption:
    sys.stderr.write("*** {}\n".format(interruption))
    sys.exit(interruption.exit_code)
  except (ValueError, IOError, NonFiniteLossError) as error:
    sys.stderr.write("*** Error: {}\n".format(error))
    sys.exit(1)

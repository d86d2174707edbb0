"""The model the transcribe tool runs, from what ``--model`` names, and the config that goes with it.

- A training logdir: its newest intact checkpoint (or train_eval's best one when the config's
  ``restore_best_checkpoint`` is set), picked as run.py --mode=infer picks it (utils/logdir.py check_logdir), in
  ``logdir/logs`` when run.py --enable_logs wrote the logdir. A checkpoint prefix (``logdir/model.ckpt-N``) is
  taken as it is. Either is built into the config's inference graph, restored with the moving averages of the
  weights when the config's ``ema_decay`` is set (as run.py's infer mode and generate_pb/ckpt2pb.py restore it)
  and frozen in memory: the graph ckpt2pb.py would write, in float32.
- A frozen graph ``.pb`` (generate_pb/ckpt2pb.py), run by export/frozen_model.py.
- An ONNX model ``.onnx`` (generate_pb/pb2onnx.py), run in onnxruntime by export/onnx_model.py.

The config gives the features and the vocabulary. For a logdir it may be left out when run.py --enable_logs saved a
copy there (``config_<time>.py``, the newest is taken); a frozen graph or ONNX model holds no config, so those need
``--config_file``.
"""
import glob
import os

from open_seq2seq.export.ckpt2pb import frozen_checkpoint_graph
from open_seq2seq.export.frozen_model import FrozenJasper
from open_seq2seq.utils.checkpoint import resolve_checkpoint
from open_seq2seq.utils.config import apply_cli_overrides, load_config_module, mode_config
from open_seq2seq.utils.logdir import check_logdir
from open_seq2seq.utils.logging import deco_print
from open_seq2seq.utils.params import with_defaults

KINDS = ("checkpoint", "frozen graph", "ONNX model")


def model_kind(path):
  """Which of KINDS ``--model`` names: ``.pb`` a frozen graph, ``.onnx`` an ONNX model, else a training logdir or
  checkpoint prefix."""
  extension = os.path.splitext(path)[1].lower()
  return {".pb": "frozen graph", ".onnx": "ONNX model"}.get(extension, "checkpoint")


def logdir_config(logdir):
  """The newest config copy that run.py --enable_logs saved in ``logdir`` (``config_<time>.py``), or None."""
  copies = sorted(glob.glob(os.path.join(glob.escape(logdir), "config_*.py")))
  return copies[-1] if copies else None


def load_config(model_path, config_file, overrides):
  """``(config module, config file)`` for ``--model model_path``: ``config_file``, or the config copy of a logdir;
  ``overrides`` (``--key=value`` tokens, as run.py takes them) are applied to it. Raises ValueError when there is
  none, or when a logdir's copy cannot be run where it lies (a config that runs its neighbour files); IOError when
  ``model_path`` does not exist."""
  if not os.path.exists(model_path) and not os.path.exists(model_path + ".index"):
    raise IOError("--model {}: no such logdir, checkpoint, .pb or .onnx file".format(model_path))
  if config_file:
    config_module = load_config_module(config_file)
  elif os.path.isdir(model_path) and logdir_config(model_path):
    config_file = logdir_config(model_path)
    try:
      config_module = load_config_module(config_file)
    except Exception as error:
      # A config is Python; its copy may fail in any way where it lies (runpy of a parent config that is not there).
      raise ValueError("the config copy {} in the logdir cannot be loaded ({}: {}); pass --config_file".format(
          config_file, type(error).__name__, error)) from error
    deco_print("Config: {} (the logdir's copy)".format(config_file))
  elif model_kind(model_path) == "checkpoint":
    raise ValueError("--model {}: no config copy (config_*.py, written by run.py --enable_logs) there; pass "
                     "--config_file".format(model_path))
  else:
    raise ValueError("--model {}: a {} holds no feature settings or vocabulary; pass the config it was exported "
                     "from with --config_file".format(model_path, model_kind(model_path)))
  apply_cli_overrides(config_module["base_params"], overrides, config_file)
  return config_module, config_file


def _checks_logs_folder(logdir):
  """True when ``logdir``'s checkpoints lie in ``logdir/logs`` (run.py --enable_logs), not in the logdir itself."""
  own = os.path.exists(os.path.join(logdir, "checkpoint")) or glob.glob(os.path.join(glob.escape(logdir), "*.index"))
  return not own and os.path.isdir(os.path.join(logdir, "logs"))


def pick_checkpoint(model_path, config_module):
  """The checkpoint of a logdir or prefix ``model_path``, as run.py --mode=infer picks it. Raises IOError when
  there is none, CheckpointError (a ValueError) when every one is damaged."""
  if not os.path.isdir(model_path):
    return resolve_checkpoint(model_path, "--model")
  eval_params = with_defaults(mode_config(config_module, "eval"), config_module["base_model"].get_optional_params())
  return check_logdir("infer", model_path, _checks_logs_folder(model_path), False,
                      eval_params["restore_best_checkpoint"])


def load_model(model_path, config_module):
  """``(runner, description)``: a FrozenJasper or OnnxJasper (``run(features)`` -> valid logits per utterance,
  ``num_features``, ``close()``) for ``--model model_path`` and a line saying what it runs. Raises IOError /
  ValueError naming the file when it is missing, damaged or no Jasper model of the config."""
  kind = model_kind(model_path)
  if kind == "frozen graph":
    return FrozenJasper(model_path), "frozen graph {}".format(model_path)
  if kind == "ONNX model":
    # onnxruntime is imported only when an ONNX model is run.
    from open_seq2seq.export.onnx_model import OnnxJasper
    return OnnxJasper(model_path), "ONNX model {} (onnxruntime, CPU)".format(model_path)
  checkpoint = pick_checkpoint(model_path, config_module)
  graph_def, _ = frozen_checkpoint_graph(config_module, checkpoint)
  return FrozenJasper(checkpoint, graph_def=graph_def), "checkpoint {}".format(checkpoint)

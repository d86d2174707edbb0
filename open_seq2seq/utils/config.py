"""Config modules: loading, per-mode merging and command-line overrides (OpenSeq2Seq semantics)."""
import argparse
import ast
import copy
import os
import runpy

import tensorflow.compat.v1 as tf

from open_seq2seq.utils.atomic import atomic_output
from open_seq2seq.utils.precision import parse_dtype

MODE_PARAMS = {
    "train": "train_params",
    "eval": "eval_params",
    "infer": "infer_params",
    "interactive_infer": "interactive_infer_params",
}


def nested_update(org_dict, upd_dict):
  """Recursively merges ``upd_dict`` into ``org_dict``: dicts merge, everything else overwrites."""
  for key, value in upd_dict.items():
    if isinstance(value, dict):
      if key in org_dict:
        if not isinstance(org_dict[key], dict):
          raise ValueError("Mismatch between org_dict and upd_dict at node {}".format(key))
        nested_update(org_dict[key], value)
      else:
        org_dict[key] = value
    else:
      org_dict[key] = value
  return org_dict


def flatten_dict(dct, prefix=""):
  """``{'a': {'b': 1}}`` -> ``{'a/b': 1}``, keeping only the overridable leaves: int, float, str, bool and
  TensorFlow dtypes (``--dtype=bfloat16``)."""
  flat = {}
  for key, value in dct.items():
    name = prefix + key
    if isinstance(value, dict):
      flat.update(flatten_dict(value, name + "/"))
    elif type(value) in (int, float, str, bool) or isinstance(value, tf.DType):
      flat[name] = value
  return flat


def nest_dict(flat):
  """The flat dict with ``/``-separated keys as nested dicts."""
  nested = {}
  for key, value in flat.items():
    node = nested
    parts = key.split("/")
    for part in parts[:-1]:
      node = node.setdefault(part, {})
    node[parts[-1]] = value
  return nested


def _parse_bool(text):
  value = ast.literal_eval(text)
  if not isinstance(value, bool):
    raise argparse.ArgumentTypeError("expected True or False, got {!r}".format(text))
  return value


def _parse_dtype(text):
  try:
    return parse_dtype(text)
  except ValueError as error:
    raise argparse.ArgumentTypeError(str(error)) from error


def _override_type(value):
  if isinstance(value, bool):
    return _parse_bool
  if isinstance(value, tf.DType):
    return _parse_dtype
  return type(value)


def load_config_module(config_file):
  """Executes a config file (trusted Python) and returns its namespace."""
  if not os.path.isfile(config_file):
    raise ValueError("Config file not found: {}".format(config_file))
  config_module = runpy.run_path(config_file, init_globals={"tf": tf})
  for name in ("base_model", "base_params"):
    if name not in config_module:
      raise ValueError("Config file {} must define '{}'".format(config_file, name))
  if not isinstance(config_module["base_params"], dict):
    raise ValueError("Config file {}: 'base_params' must be a dict".format(config_file))
  return config_module


class _OverrideParser(argparse.ArgumentParser):
  """Reports a value that does not parse as its key's type as a ValueError (one ``*** Error:`` line from
  run.py) instead of argparse's usage dump and exit."""

  def error(self, message):
    """Raises ValueError with ``message``."""
    raise ValueError("{}: {} (each override takes the type of the config's value; ranges are checked when "
                     "the model is built)".format(self.prog, message))


def apply_cli_overrides(base_params, override_args, config_file="config"):
  """Parses ``--key=value`` / ``--a/b=value`` tokens against the flattened base_params; raises ValueError
  naming the key for a value that is not of the config value's type."""
  flat = flatten_dict(base_params)
  parser = _OverrideParser(prog="run.py overrides of " + config_file, allow_abbrev=False)
  for key, value in flat.items():
    parser.add_argument("--" + key, default=value, type=_override_type(value))
  unknown = [tok for tok in override_args if tok.startswith("--")
             and tok[2:].split("=", 1)[0] not in flat]
  if unknown:
    raise ValueError("Unknown config override(s) {} for {}. Overridable keys: {}".format(
        unknown, config_file, ", ".join(sorted(flat))))
  parsed = parser.parse_args(override_args)
  nested_update(base_params, nest_dict(vars(parsed)))
  return base_params


def mode_config(config_module, mode):
  """Deep copy of base_params with the mode's dict merged over it."""
  params = copy.deepcopy(config_module["base_params"])
  mode_key = MODE_PARAMS[mode]
  if mode_key in config_module:
    nested_update(params, copy.deepcopy(config_module[mode_key]))
  return params


EVAL_SET_INFER_CONFIG = """# Written from {config}: the same config, with inference on its eval set
# (e.g. to dump dev-set logits for LM decoding).
import copy
import runpy

_config = runpy.run_path({config!r}, init_globals={{"tf": tf}})
base_model = _config["base_model"]
base_params = _config["base_params"]
train_params = _config.get("train_params", {{}})
eval_params = _config.get("eval_params", {{}})
infer_params = copy.deepcopy(eval_params)
"""

DATASET_FILES_OVERRIDE = """for _mode_params in (eval_params, infer_params):
  _mode_params.setdefault("data_layer_params", {{}})["dataset_files"] = {files!r}
"""


def write_eval_set_infer_config(config_file, output_path, dataset_files=None):
  """Writes a config file that runs ``config_file``'s eval set in infer mode; returns ``output_path``.

  ``dataset_files`` (manifest paths) replaces the eval set of both eval and infer mode, e.g. to evaluate
  one model on several dev sets.
  """
  load_config_module(config_file)
  text = EVAL_SET_INFER_CONFIG.format(config=os.path.abspath(config_file))
  if isinstance(dataset_files, str):
    dataset_files = [dataset_files]
  if dataset_files:
    text += DATASET_FILES_OVERRIDE.format(files=[os.path.abspath(path) for path in dataset_files])
  with atomic_output(output_path) as tmp_path, open(tmp_path, "w", encoding="utf-8") as handle:
    handle.write(text)
  return output_path

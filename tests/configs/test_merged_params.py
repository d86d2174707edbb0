"""Every shipped config keeps the params it had when it was written out in full, key by key, before its
shared sections were factored out (configs/speech2text/*.py derive from one another and from the Jasper
layer helper): the merged base/train/eval/infer params of each config, with classes and functions by their
qualified names, equal the JSON recorded then (tests/configs/merged_params/)."""
import glob
import json
import os

import pytest

from open_seq2seq.utils.config import load_config_module
from tests.e2e.e2e_helpers import REPO

CONFIG_DIR = os.path.join(REPO, "configs", "speech2text")
RECORD_DIR = os.path.join(os.path.dirname(__file__), "merged_params")
SECTIONS = ("base_params", "train_params", "eval_params", "infer_params")


def _plain(value):
  """JSON-able form of a config value: classes, functions and dtypes by name, paths relative to the repo."""
  if isinstance(value, dict):
    return {str(k): _plain(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [_plain(v) for v in value]
  if isinstance(value, str):
    return value.replace(REPO, "<repo>")
  if value is None or isinstance(value, (bool, int, float)):
    return value
  if hasattr(value, "as_numpy_dtype"):
    return "dtype:" + value.name
  return "{}.{}".format(getattr(value, "__module__", "?"), getattr(value, "__qualname__", repr(value)))


def merged_params(config_file):
  """{section: params} of a config file, in _plain form, with the model class by name."""
  module = load_config_module(config_file)
  record = {"base_model": _plain(module["base_model"])}
  for section in SECTIONS:
    if section in module:
      record[section] = _plain(module[section])
  return record


CONFIGS = sorted(os.path.basename(p) for p in glob.glob(os.path.join(CONFIG_DIR, "*.py")))


def test_every_config_has_a_record():
  assert sorted(os.path.basename(p)[:-len(".json")] + ".py"
                for p in glob.glob(os.path.join(RECORD_DIR, "*.json"))) == CONFIGS


@pytest.mark.parametrize("config", CONFIGS)
def test_config_params_are_unchanged(config, monkeypatch):
  monkeypatch.setenv("LIBRISPEECH_ROOT", "/data/librispeech")
  monkeypatch.setenv("JASPER_MINI_CORPUS", "/data/mini_librispeech")
  with open(os.path.join(RECORD_DIR, config[:-len(".py")] + ".json"), encoding="utf-8") as f:
    assert merged_params(os.path.join(CONFIG_DIR, config)) == json.load(f)

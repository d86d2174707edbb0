"""Parameter checking and config handling (spec 1.1-1.3)."""
import copy
import os

import pytest
import tensorflow as tf

from open_seq2seq.utils.config import (apply_cli_overrides, flatten_dict, load_config_module, mode_config,
                                       nested_update)
from open_seq2seq.utils.params import check_params

tf.compat.v1.disable_eager_execution()

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CFG_5X3 = os.path.join(ROOT, "configs/speech2text/jasper5x3_LibriSpeech_nvgrad_masks_1p.py")


class Owner:
  pass


REQUIRED = {"num": int, "name": str, "rate": float, "anything": None}
OPTIONAL = {"flag": bool, "mode": ["a", "b"], "cls": None, "items": list, "num_or_str": (int, str)}
VALID = {"num": 3, "name": "x", "rate": 0.5, "anything": object()}


def test_check_params_accepts_valid():
  check_params(dict(VALID), REQUIRED, OPTIONAL, "Owner")
  check_params(dict(VALID, flag=True, mode="b", cls=Owner, items=[1], num_or_str="s"), REQUIRED, OPTIONAL, "Owner")
  check_params(dict(VALID, rate=2), REQUIRED, OPTIONAL, "Owner")  # int is fine where float is expected


def test_check_params_unknown_key():
  with pytest.raises(ValueError) as err:
    check_params(dict(VALID, bogus_key=1), REQUIRED, OPTIONAL, "MyEncoder")
  assert "bogus_key" in str(err.value) and "MyEncoder" in str(err.value)


def test_check_params_missing_required():
  params = dict(VALID)
  del params["rate"]
  with pytest.raises(ValueError) as err:
    check_params(params, REQUIRED, OPTIONAL, "MyEncoder")
  assert "rate" in str(err.value) and "MyEncoder" in str(err.value)


@pytest.mark.parametrize("key,value", [("num", "3"), ("num", 3.0), ("name", 5), ("rate", "fast"),
                                       ("flag", 1), ("items", (1, 2)), ("num_or_str", 1.5), ("num", True)])
def test_check_params_wrong_type(key, value):
  with pytest.raises(ValueError) as err:
    check_params(dict(VALID, **{key: value}), REQUIRED, OPTIONAL, "Owner")
  assert key in str(err.value)


def test_check_params_allowed_values():
  with pytest.raises(ValueError) as err:
    check_params(dict(VALID, mode="c"), REQUIRED, OPTIONAL, "Owner")
  assert "mode" in str(err.value)


def test_nested_update_rules():
  org = {"a": {"x": 1, "y": [1, 2]}, "l": [1, 2, 3], "c": Owner, "s": "keep"}
  upd = {"a": {"y": [9], "z": {"new": 1}}, "l": [4], "c": int, "n": {"k": 2}}
  result = nested_update(org, upd)
  assert result is org
  assert org == {"a": {"x": 1, "y": [9], "z": {"new": 1}}, "l": [4], "c": int, "s": "keep", "n": {"k": 2}}


def test_nested_update_mismatch():
  with pytest.raises(ValueError) as err:
    nested_update({"a": 1}, {"a": {"b": 2}})
  assert "a" in str(err.value)


def test_flatten_dict_keeps_overridable_leaves_only():
  params = {"i": 1, "f": 0.5, "s": "x", "b": False, "lst": [1], "none": None, "cls": Owner,
            "d": {"e": {"g": 3, "h": [2]}, "k": "v"}}
  assert flatten_dict(params) == {"i": 1, "f": 0.5, "s": "x", "b": False, "d/e/g": 3, "d/k": "v"}


def _base():
  return {"use_horovod": True, "num_gpus": 8, "batch_size_per_gpu": 32, "logdir": "log",
          "lr_policy_params": {"learning_rate": 0.02, "power": 2.0},
          "decoder_params": {"use_language_model": True, "initializer": Owner},
          "data_layer_params": {"pad_to": 16, "vocab_file": "v.txt"}, "hooks": [Owner]}


def test_cli_overrides_nested_and_types():
  params = _base()
  apply_cli_overrides(params, ["--use_horovod=False", "--num_gpus=1", "--lr_policy_params/learning_rate=0.01",
                               "--decoder_params/use_language_model=False", "--logdir", "other_dir",
                               "--data_layer_params/pad_to=8"])
  assert params["use_horovod"] is False
  assert params["num_gpus"] == 1 and isinstance(params["num_gpus"], int)
  assert params["lr_policy_params"] == {"learning_rate": 0.01, "power": 2.0}
  assert params["decoder_params"] == {"use_language_model": False, "initializer": Owner}
  assert params["logdir"] == "other_dir"
  assert params["data_layer_params"] == {"pad_to": 8, "vocab_file": "v.txt"}
  assert params["batch_size_per_gpu"] == 32 and params["hooks"] == [Owner]


def test_cli_bool_parsing_true():
  params = dict(_base(), use_horovod=False)
  apply_cli_overrides(params, ["--use_horovod=True"])
  assert params["use_horovod"] is True


def test_cli_no_overrides_keeps_values():
  params = _base()
  expected = copy.deepcopy(params)
  apply_cli_overrides(params, [])
  assert params == expected


def test_cli_unknown_override():
  with pytest.raises(ValueError) as err:
    apply_cli_overrides(_base(), ["--num_gpus=1", "--no_such/key=3"])
  assert "no_such/key" in str(err.value)


def test_cli_non_overridable_leaf_is_unknown():
  with pytest.raises(ValueError) as err:
    apply_cli_overrides(_base(), ["--decoder_params/initializer=foo"])
  assert "decoder_params/initializer" in str(err.value)


def _module():
  return {"base_model": Owner, "base_params": _base(),
          "train_params": {"data_layer_params": {"pad_to": 4, "augmentation": {"n": 2}}, "hooks": [int],
                           "num_gpus": 2},
          "eval_params": {"data_layer_params": {"vocab_file": "e.txt"}}}


def test_mode_config_merges_train_params():
  module = _module()
  original = copy.deepcopy(module["base_params"])
  cfg = mode_config(module, "train")
  assert cfg["data_layer_params"] == {"pad_to": 4, "vocab_file": "v.txt", "augmentation": {"n": 2}}
  assert cfg["hooks"] == [int]  # lists replaced, not concatenated
  assert cfg["num_gpus"] == 2
  assert module["base_params"] == original  # base untouched
  cfg["data_layer_params"]["augmentation"]["n"] = 99
  assert module["train_params"]["data_layer_params"]["augmentation"]["n"] == 2  # deep copies


def test_mode_config_other_modes():
  module = _module()
  assert mode_config(module, "eval")["data_layer_params"] == {"pad_to": 16, "vocab_file": "e.txt"}
  infer = mode_config(module, "infer")
  assert infer == module["base_params"] and infer is not module["base_params"]


def test_mode_params_win_over_cli_override():
  module = _module()
  apply_cli_overrides(module["base_params"], ["--num_gpus=1", "--data_layer_params/pad_to=2"])
  cfg = mode_config(module, "train")
  assert cfg["num_gpus"] == 2 and cfg["data_layer_params"]["pad_to"] == 4
  assert mode_config(module, "eval")["data_layer_params"]["pad_to"] == 2


def test_load_config_module(tmp_path):
  module = load_config_module(CFG_5X3)
  assert module["base_model"].__name__ == "Speech2Text"
  assert module["base_params"]["encoder"].__name__ == "TDNNEncoder"
  with pytest.raises(ValueError):
    load_config_module(str(tmp_path / "missing.py"))
  bad = tmp_path / "bad.py"
  bad.write_text("base_params = {}\n")
  with pytest.raises(ValueError) as err:
    load_config_module(str(bad))
  assert "base_model" in str(err.value)
  bad.write_text("base_model = int\n")
  with pytest.raises(ValueError) as err:
    load_config_module(str(bad))
  assert "base_params" in str(err.value)
  good = tmp_path / "good.py"
  good.write_text("base_model = int\nbase_params = {'x': tf.float32}\n")  # 'tf' is injected
  assert load_config_module(str(good))["base_params"]["x"] is not None


def test_speech2text_rejects_unknown_key():
  from open_seq2seq.models import Speech2Text
  params = dict(load_config_module(CFG_5X3)["base_params"], not_a_real_key=1)
  with tf.Graph().as_default():
    with pytest.raises(ValueError) as err:
      Speech2Text(params, mode="train")
  assert "Speech2Text" in str(err.value) and "not_a_real_key" in str(err.value)


def test_speech2text_rejects_wrong_type():
  from open_seq2seq.models import Speech2Text
  params = dict(load_config_module(CFG_5X3)["base_params"], batch_size_per_gpu="32")
  with tf.Graph().as_default():
    with pytest.raises(ValueError) as err:
      Speech2Text(params, mode="train")
  assert "batch_size_per_gpu" in str(err.value)


@pytest.mark.parametrize("text,expected", [("bfloat16", tf.bfloat16), ("mixed", "mixed"), ("float32", tf.float32)])
def test_dtype_leaves_are_overridable(text, expected):
  params = apply_cli_overrides({"dtype": tf.float32}, ["--dtype=" + text])
  assert params["dtype"] == expected and type(params["dtype"]) is type(expected)


def test_bad_dtype_override_is_refused():
  with pytest.raises(ValueError, match="argument --dtype: expected mixed or a dtype name"):
    apply_cli_overrides({"dtype": tf.float32}, ["--dtype=float99"])

"""Every numeric parameter is checked for type and range when the model is built, and the error names the
key's full path (issue 14, case 13)."""
import copy
import glob
import inspect
import math
import os
import re
import subprocess
import sys

import pytest
import tensorflow as tf

from open_seq2seq.data import Speech2TextDataLayer
from open_seq2seq.data.data_layer import DataLayer
from open_seq2seq.optimizers import lr_policies
from open_seq2seq.optimizers.lr_policies import LR_POLICY_PARAMS
from open_seq2seq.optimizers.novograd import NovoGrad
from open_seq2seq.optimizers.optimize_loss import OPTIMIZER_CLS_NAMES, OPTIMIZER_PARAMS
from open_seq2seq.utils.config import apply_cli_overrides, load_config_module, mode_config
from open_seq2seq.utils.params import ListOf, Range, check_params
from tests.e2e.e2e_helpers import CONFIG, REPO

tf.compat.v1.disable_eager_execution()


@pytest.mark.parametrize("spec, good, bad", [
    (Range(int, low=1), [1, 7, 10 ** 12], [0, -3, 1.0, True, "2", None]),
    (Range(float, low=0, low_inclusive=False), [1e-9, 3, 2.5], [0, 0.0, -1e-9, float("nan"), float("inf"), "0.1"]),
    (Range(float, low=0, high=1, high_inclusive=False), [0, 0.5, 0.999], [1, 1.0, -0.1, False]),
    (Range(float, high=0), [-2.5, 0], [1e-9]),
    (ListOf(Range(int, low=1), length=1), [[1], (4,)], [[0], [1, 2], [], 1, ["1"]]),
])
def test_range_and_list_specs(spec, good, bad):
  for value in good:
    check_params({"key": value}, {"key": spec}, {})
  for value in bad:
    with pytest.raises(ValueError, match="parameter 'key' is"):
      check_params({"key": value}, {"key": spec}, {})


def _set(params, path, value):
  """Sets ``a/b[3]/c`` in nested dicts and lists."""
  parts = [int(p) if p.isdigit() else p for p in re.findall(r"[^/\[\]]+", path)]
  node = params
  for part in parts[:-1]:
    node = node[part]
  node[parts[-1]] = value


BAD_VALUES = [
    ("batch_size_per_gpu", 0, "'batch_size_per_gpu' is 0 (int), expected int >= 1"),
    ("batch_size_per_gpu", "8", "'batch_size_per_gpu' is '8' (str)"),
    ("max_steps", 0, "'max_steps' is 0"),
    ("num_epochs", 0, "'num_epochs' is 0"),
    ("iter_size", 0, "'iter_size' is 0"),
    ("eval_steps", 0, "'eval_steps' is 0"),
    ("num_gpus", 0, "'num_gpus' is 0"),
    ("save_checkpoint_steps", -1, "'save_checkpoint_steps' is -1 (int), expected int >= 0"),
    ("print_loss_steps", 2.5, "'print_loss_steps' is 2.5"),
    ("max_consecutive_nonfinite_steps", 0, "'max_consecutive_nonfinite_steps' is 0"),
    ("ema_decay", 1.0, "'ema_decay' is 1.0 (float), expected float in [0, 1)"),
    ("max_grad_norm", 0.0, "'max_grad_norm' is 0.0"),
    ("loss_scaling", -2.0, "'loss_scaling' is -2.0"),
    ("lr_policy_params/learning_rate", "0.01", "'lr_policy_params/learning_rate' is '0.01' (str), expected float > 0"),
    ("lr_policy_params/learning_rate", -1.0, "'lr_policy_params/learning_rate' is -1.0"),
    ("lr_policy_params/learning_rate", float("nan"), "'lr_policy_params/learning_rate' is nan"),
    ("lr_policy_params/warmup_steps", -1, "'lr_policy_params/warmup_steps' is -1"),
    ("lr_policy_params/power", -1.0, "'lr_policy_params/power' is -1.0"),
    ("lr_policy_params/min_lr", -1e-5, "'lr_policy_params/min_lr' is -1e-05"),
    ("lr_policy_params/decay_steps", 0, "'lr_policy_params/decay_steps' is 0"),
    ("lr_policy_params/bogus", 1, "unknown parameter 'lr_policy_params/bogus'"),
    ("optimizer_params/beta1", 1.0, "'optimizer_params/beta1' is 1.0"),
    ("optimizer_params/beta2", -0.1, "'optimizer_params/beta2' is -0.1"),
    ("optimizer_params/epsilon", 0.0, "'optimizer_params/epsilon' is 0.0"),
    ("optimizer_params/weight_decay", -1e-3, "'optimizer_params/weight_decay' is -0.001"),
    ("optimizer_params/learning_rate", 0.1, "unknown parameter 'optimizer_params/learning_rate'"),
    ("larc_params", {"larc_eta": 0.0}, "'larc_params/larc_eta' is 0.0"),
    ("data_layer_params/num_audio_features", 0, "'data_layer_params/num_audio_features' is 0"),
    ("data_layer_params/window_size", 0.0, "'data_layer_params/window_size' is 0.0"),
    ("data_layer_params/window_stride", -0.01, "'data_layer_params/window_stride' is -0.01"),
    ("data_layer_params/sample_freq", 0, "'data_layer_params/sample_freq' is 0"),
    ("data_layer_params/dither", -0.1, "'data_layer_params/dither' is -0.1"),
    ("data_layer_params/num_parallel_calls", 0, "'data_layer_params/num_parallel_calls' is 0"),
    ("data_layer_params/pad_to", -8, "'data_layer_params/pad_to' is -8"),
    ("data_layer_params/max_duration", "16.7", "'data_layer_params/max_duration' is '16.7'"),
    ("encoder_params/convnet_layers[3]/stride", [0], "'encoder_params/convnet_layers[3]/stride' is [0]"),
    ("encoder_params/convnet_layers[0]/kernel_size", [0], "'encoder_params/convnet_layers[0]/kernel_size' is [0]"),
    ("encoder_params/convnet_layers[1]/dilation", [1, 1], "'encoder_params/convnet_layers[1]/dilation' is [1, 1]"),
    ("encoder_params/convnet_layers[2]/repeat", 0, "'encoder_params/convnet_layers[2]/repeat' is 0"),
    ("encoder_params/convnet_layers[2]/num_channels", 0, "'encoder_params/convnet_layers[2]/num_channels' is 0"),
    ("encoder_params/convnet_layers[0]/dropout_keep_prob", 0.0, "'encoder_params/convnet_layers[0]/dropout_keep_prob'"),
    ("encoder_params/convnet_layers[0]/padding", "same", "'encoder_params/convnet_layers[0]/padding' is 'same'"),
    ("encoder_params/dropout_keep_prob", 1.5, "'encoder_params/dropout_keep_prob' is 1.5"),
    ("encoder_params/bn_epsilon", 0.0, "'encoder_params/bn_epsilon' is 0.0"),
    ("loss_params/mask_nan", "yes", "'loss_params/mask_nan' is 'yes'"),
    # float32 applies no loss scaling, so a misspelt algorithm used to pass unnoticed
    ("loss_scaling", "Backof", "'loss_scaling' is 'Backof', expected a float > 0 or 'Backoff' / 'LogMax'"),
    ("random_seed", 2 ** 32, "'random_seed' is 4294967296 (int), expected int in [0, 2147483647]"),
    ("lr_policy_params/min_lr", 0.5, "'lr_policy_params/min_lr' is 0.5, expected <= lr_policy_params/learning_rate"),
    ("data_layer_params/augmentation", {"n_freq_mask": -1}, "data_layer_params/augmentation/n_freq_mask=-1: "),
    ("data_layer_params/augmentation", {"width_freq_mask": 65, "n_freq_mask": 1},
     "data_layer_params/augmentation/width_freq_mask=65 exceeds num_audio_features=64"),
]


@pytest.fixture(scope="module")
def tiny_config(corpus):
  previous = os.environ.get("JASPER_MINI_CORPUS")
  os.environ["JASPER_MINI_CORPUS"] = corpus
  try:
    yield load_config_module(CONFIG)
  finally:
    if previous is None:
      del os.environ["JASPER_MINI_CORPUS"]
    else:
      os.environ["JASPER_MINI_CORPUS"] = previous


@pytest.mark.parametrize("path, value, fragment", BAD_VALUES)
def test_out_of_range_value_is_refused_naming_its_path(tiny_config, path, value, fragment):
  params = mode_config(tiny_config, "train")
  _set(params, path, value)
  with tf.Graph().as_default(), pytest.raises(ValueError) as error:
    tiny_config["base_model"](params=params, mode="train")
  assert fragment in str(error.value)


def test_tiny_config_with_its_defaults_satisfies_every_declaration(tiny_config):
  """The defaults the model and the data layer fill in lie inside the ranges they declare."""
  with tf.Graph().as_default():
    model = tiny_config["base_model"](params=mode_config(tiny_config, "train"), mode="train")
  for owner, params in ((model, model.params), (model.get_data_layer(), model.get_data_layer().params)):
    declared = dict(owner.get_required_params(), **owner.get_optional_params())
    check_params({k: v for k, v in params.items() if k in declared}, {}, declared, type(owner).__name__)


def _defaults(function):
  return {name: p.default for name, p in inspect.signature(function).parameters.items()
          if p.default is not inspect.Parameter.empty and p.default is not None}


def test_every_lr_policy_and_optimizer_default_satisfies_its_spec():
  policies = [f for _, f in inspect.getmembers(lr_policies, inspect.isfunction)
              if f.__module__ == lr_policies.__name__ and "global_step" in inspect.signature(f).parameters]
  assert len(policies) >= 7
  for policy in policies:
    for name, default in _defaults(policy).items():
      check_params({name: default}, {}, {name: LR_POLICY_PARAMS[name]}, policy.__name__)
  for optimizer in list(OPTIMIZER_CLS_NAMES.values()) + [NovoGrad]:
    for name, default in _defaults(optimizer.__init__).items():
      if name != "learning_rate":
        check_params({name: default}, {}, {name: OPTIMIZER_PARAMS.get(name)}, optimizer.__name__)


class DeclarationsOnlyDataLayer(Speech2TextDataLayer):
  """Checks Speech2TextDataLayer's declarations without reading a corpus (the LibriSpeech configs' data is
  not here)."""

  def __init__(self, params, model, num_workers=None, worker_id=None):
    DataLayer.__init__(self, params, model, num_workers, worker_id)
    self.params["tgt_vocab_size"] = 29

  def get_size_in_samples(self):
    return 281241  # LibriSpeech's 960 h, for the configs that train by epochs


@pytest.mark.parametrize("config_file", sorted(glob.glob(os.path.join(REPO, "configs", "speech2text", "*.py"))))
@pytest.mark.parametrize("mode", ["train", "eval", "infer"])
def test_every_shipped_config_validates(config_file, mode, monkeypatch, tmp_path):
  monkeypatch.setenv("JASPER_MINI_CORPUS", str(tmp_path))
  config = load_config_module(config_file)
  params = mode_config(config, mode)
  params.update(use_horovod=False, num_gpus=1, data_layer=DeclarationsOnlyDataLayer)
  with tf.Graph().as_default():
    model = config["base_model"](params=params, mode=mode)
  assert math.isfinite(model.params["lr_policy_params"]["learning_rate"])


def test_cli_override_of_the_wrong_type_names_the_key():
  params = {"lr_policy_params": {"learning_rate": 0.05}}
  with pytest.raises(ValueError, match="argument --lr_policy_params/learning_rate: invalid float value: 'abc'"):
    apply_cli_overrides(copy.deepcopy(params), ["--lr_policy_params/learning_rate=abc"])


@pytest.mark.parametrize("override, fragment", [
    ("--batch_size_per_gpu=0", "parameter 'batch_size_per_gpu' is 0 (int), expected int >= 1"),
    ("--lr_policy_params/learning_rate=abc", "--lr_policy_params/learning_rate: invalid float value: 'abc'"),
])
def test_run_py_reports_a_bad_override_in_one_line(env, tmp_path, override, fragment):
  result = subprocess.run([sys.executable, "run.py", "--config_file=" + CONFIG, "--mode=train",
                           "--logdir=" + str(tmp_path / "logdir"), override], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
  assert result.returncode == 1
  errors = [line for line in result.stderr.splitlines() if line.startswith("*** Error:")]
  assert len(errors) == 1 and fragment in errors[0], result.stderr[-2000:]
  assert "Traceback" not in result.stderr

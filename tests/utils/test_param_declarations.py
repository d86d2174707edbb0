"""Every parameter of every part is declared once, with its doc and (optional ones) a default inside its own spec
(issue 16), and the declared defaults are the values the code used to write inline before the declarations held
them (the pre-declaration code's ``setdefault``/``.get`` defaults, copied here by hand)."""
import copy
import glob
import os

import pytest
import tensorflow as tf

from open_seq2seq.data.data_layer import DataLayer
from open_seq2seq.data.speech2text.augmentation import KEYS as AUGMENTATION_KEYS
from open_seq2seq.describe import part_sections
from open_seq2seq.encoders import TDNNEncoder
from open_seq2seq.models import Speech2Text
from open_seq2seq.utils.params import NO_DEFAULT, Inert, Param, check_params, with_defaults
from tests.optimizers.speech_model_fixture import VOCAB_FILE, FixedBatchDataLayer, fixed_batch
from tests.optimizers.speech_model_fixture import BASE_PARAMS as FIXTURE_PARAMS

tf.compat.v1.disable_eager_execution()


def _declarations():
  for part, sections in sorted(part_sections().items()):
    for title, required, optional in sections:
      for name, declaration in list(required.items()) + list(optional.items()):
        yield part, title, name, declaration, name in required


DECLARATIONS = list(_declarations())


def test_the_registry_covers_every_kind_of_part():
  parts = {part for part, _, _, _, _ in DECLARATIONS}
  assert {"Speech2Text", "Speech2TextDataLayer", "PlaceholderSpeechDataLayer", "SyntheticSpeech2TextDataLayer",
          "TDNNEncoder", "FullyConnectedCTCDecoder", "CTCLoss", "NovoGrad", "Adam", "Momentum", "poly_decay",
          "piecewise_constant", "Backoff", "LogMax", "LARC"} <= parts


@pytest.mark.parametrize("part, title, name, declaration, required", DECLARATIONS,
                         ids=["{}:{}".format(d[1].split(" (")[0], d[2]) for d in DECLARATIONS])
def test_every_declared_param_has_a_doc_and_a_default_inside_its_spec(part, title, name, declaration, required):
  assert isinstance(declaration, Param), "{} / {}: a bare spec declares no default and no doc".format(title, name)
  assert declaration.doc.strip() and "\n" not in declaration.doc
  assert declaration.required == required
  if not required:
    # Raises (failing the test) when the default lies outside the spec.
    check_params({name: declaration.default}, {}, {name: declaration}, part)


@pytest.mark.parametrize("name", sorted(AUGMENTATION_KEYS))
def test_every_augmentation_key_has_a_doc_and_an_allowed_default(name):
  key = AUGMENTATION_KEYS[name]
  assert key.doc.strip()
  assert key.default is None or key.kind.problem(key.default) is None


def test_a_param_needs_a_doc():
  with pytest.raises(ValueError, match="needs a one-line doc"):
    Param(int, 1)


def test_with_defaults_fills_only_missing_keys_and_never_shares_a_mutable_default():
  declared = {"a": Param(list, [], "a list"), "b": Param(int, 3, "an int"), "c": Param(int, doc="required"),
              "d": int}
  first = with_defaults({"b": None}, declared)
  assert first == {"a": [], "b": None}
  first["a"].append(1)
  assert with_defaults({}, declared)["a"] == []


# part -> {name: the pre-declaration default}
OLD_DEFAULTS = {
    "Speech2Text": {
        "iter_size": 1, "dtype": tf.float32, "num_checkpoints": 5, "max_consecutive_nonfinite_steps": 10,
        "ema_decay": 0.0, "bench_start": 10, "logdir": "", "save_summaries_steps": None, "print_loss_steps": None,
        "print_samples_steps": None, "save_checkpoint_steps": None, "print_bench_info_steps": None,
        "loss_scaling": 1.0, "optimizer_params": {}, "lr_policy_params": {}, "data_layer_params": {},
        "initializer_params": {}, "gpu_ids": [], "encoder_params": {}, "decoder_params": {}, "loss_params": {},
        "max_grad_norm": None, "larc_params": None, "loss_scaling_params": None, "freeze_variables_regex": None,
        "load_model": None, "eval_steps": None, "initializer": None, "regularizer": None, "loss": None,
        # optimize_loss's summaries=None, session_config's use_xla_jit, run.py's hooks and restore_best_checkpoint
        "summaries": ["learning_rate", "global_gradient_norm", "loss_scale"], "use_xla_jit": False, "hooks": [],
        "restore_best_checkpoint": False,
    },
    "TDNNEncoder": {"bn_momentum": 0.90, "bn_epsilon": 1e-3, "use_conv_mask": False, "initializer_params": {},
                    "regularizer_params": {}},
    "FullyConnectedCTCDecoder": {"infer_logits_to_pickle": False, "logits_to_outputs_func": None},
    "CTCLoss": {"mask_nan": True},
    "Speech2TextDataLayer": {
        "backend": "psf", "pad_to": 8, "max_duration": -1.0, "min_duration": -1.0, "window_size": 20e-3,
        "window_stride": 10e-3, "window": "hanning", "sample_freq": 16000, "dither": 0.0, "norm_per_feature": False,
        "norm_epsilon": 1e-5, "augmentation": None, "random_seed": 0, "resample_audio": True, "mix_to_mono": True,
        "skip_bad_data": False, "max_feature_length": -1, "max_label_length": -1, "cache_features": False,
        "cache_format": "hdf5", "cache_regenerate": False, "gain": None, "dataset_root": None,
        "length_bucket_boundaries": None, "dtype": tf.float32,
    },
    "PlaceholderSpeechDataLayer": {"pad_to": 0, "num_frames": None, "static_batch": False},
    "SyntheticSpeech2TextDataLayer": {"batch_size": 8, "num_frames": 1600, "label_length": 100, "num_batches": 2,
                                      "random_seed": 0},
    "LARC": {"larc_mode": "clip", "min_update": 1e-7, "epsilon": 1e-7},
    "Backoff": {"scale_min": 1.0, "scale_max": 2.0 ** 14, "step_factor": 2.0, "step_window": 2000},
    "LogMax": {"scale_min": 1.0, "scale_max": 2.0 ** 14, "log_max": 16.0, "beta1": 0.99, "beta2": 0.999,
               "overflow_std_dev": 3.09},
}
OLD_LAYER_DEFAULTS = {"residual": False, "residual_dense": False}


@pytest.mark.parametrize("part", sorted(OLD_DEFAULTS))
def test_declared_defaults_are_the_old_inline_defaults(part):
  _, _, optional = part_sections()[part][0]
  declared = {name: declaration.default for name, declaration in optional.items()}
  for name, old in OLD_DEFAULTS[part].items():
    assert declared[name] == old and type(declared[name]) is type(old), (part, name, declared[name], old)


def test_declared_defaults_of_the_encoder_layers_are_the_old_ones():
  _, _, optional = part_sections()["TDNNEncoder"][1]
  assert {name: optional[name].default for name in OLD_LAYER_DEFAULTS} == OLD_LAYER_DEFAULTS


def _minimal_model(mode="train", **overrides):
  params = {"use_horovod": False, "batch_size_per_gpu": 4, "max_steps": 10, "data_layer": FixedBatchDataLayer,
            "data_layer_params": {"batch": fixed_batch()}, "encoder": TDNNEncoder,
            "encoder_params": {"convnet_layers": copy.deepcopy(FIXTURE_PARAMS["encoder_params"]["convnet_layers"]),
                               "dropout_keep_prob": 0.8, "activation_fn": tf.nn.relu},
            "decoder": FIXTURE_PARAMS["decoder"], "loss": FIXTURE_PARAMS["loss"]}
  params["encoder_params"]["convnet_layers"][0].pop("dropout_keep_prob")
  params.update(overrides)
  written = copy.deepcopy(params)
  with tf.Graph().as_default():
    model = Speech2Text(params, mode=mode)
  # The model works on its own copy: the config stays as the user wrote it (run.py prints it as such).
  assert params.keys() == written.keys() and params["encoder_params"] == written["encoder_params"]
  return model, params


def test_a_model_fills_in_exactly_the_old_defaults():
  model, config = _minimal_model()
  for name, old in OLD_DEFAULTS["Speech2Text"].items():
    # Speech2Text adds tgt_vocab_size to its decoder_params.
    if name not in config and name != "decoder_params":
      assert model.params[name] == old, name
  # Defaults the old code derived from other values
  assert model.params["eval_batch_size_per_gpu"] == 4
  assert isinstance(model.params["random_seed"], int)
  encoder = model.encoder.params
  assert (encoder["bn_momentum"], encoder["bn_epsilon"], encoder["use_conv_mask"]) == (0.90, 1e-3, False)
  assert encoder["dtype"] == tf.float32
  layers = encoder["convnet_layers"]
  assert [layer["dropout_keep_prob"] for layer in layers] == [0.8, 1.0, 1.0]
  assert [(layer["residual"], layer["residual_dense"]) for layer in layers] == [(False, False), (True, True),
                                                                                 (False, False)]
  assert model.decoder.params["infer_logits_to_pickle"] is False
  assert model._loss_computator._mask_nan is True
  data = model.get_data_layer().params
  assert (data["shuffle"], data["num_workers"], data["worker_id"]) == (True, 1, 0)
  assert (data["num_frames"], data["label_length"], data["num_batches"]) == (1600, 100, 2)


def test_eval_mode_keeps_its_old_derived_defaults():
  data = _minimal_model(mode="eval")[0].get_data_layer().params
  assert data["shuffle"] is False


def test_an_explicit_setting_wins_over_the_default():
  model, _ = _minimal_model(num_checkpoints=2, eval_batch_size_per_gpu=3, ema_decay=None)
  assert (model.params["num_checkpoints"], model.params["eval_batch_size_per_gpu"]) == (2, 3)
  assert model.params["ema_decay"] == 0.0


def test_the_base_data_layer_derives_its_defaults_from_the_model():
  assert DataLayer({"mode": "train"}, None, num_workers=4, worker_id=2).params["num_workers"] == 4
  layer = DataLayer({"mode": "infer", "worker_id": 0}, None, num_workers=4, worker_id=2)
  assert (layer.params["num_workers"], layer.params["worker_id"], layer.params["shuffle"]) == (4, 0, False)


def test_the_speech_data_layer_fills_in_the_old_defaults(corpus):
  from open_seq2seq.data import Speech2TextDataLayer
  manifest = sorted(glob.glob(os.path.join(corpus, "*dev*.csv")))[0]
  layer = Speech2TextDataLayer({"mode": "eval", "num_audio_features": 64, "input_type": "logfbank",
                                "vocab_file": VOCAB_FILE, "dataset_files": [manifest]}, None)
  for name, old in OLD_DEFAULTS["Speech2TextDataLayer"].items():
    assert layer.params[name] == old, name
  assert layer.params["num_parallel_calls"] == max(2, os.cpu_count() or 1)
  assert layer.params["cache_dir"] is None and layer.params["precompute_mel_basis"] is None


def test_inert_keys_stay_inert_params():
  assert isinstance(TDNNEncoder.get_optional_params()["data_format"], Inert)
  assert TDNNEncoder.get_optional_params()["data_format"].doc.startswith("no effect here: ")
  assert TDNNEncoder.get_required_params()["activation_fn"].default is NO_DEFAULT

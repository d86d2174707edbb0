"""Keys the original's Jasper configs carry that have no effect here (issue 16): accepted, checked, and named
once at start-up; the keys nothing reads and no reference config carries are refused as unknown."""
import pytest
import tensorflow as tf

from open_seq2seq.data import Speech2TextDataLayer
from open_seq2seq.encoders import TDNNEncoder
from open_seq2seq.models import Speech2Text
from open_seq2seq.utils import params as params_module
from open_seq2seq.utils.params import Inert, check_params
from tests.e2e.e2e_helpers import run_script

tf.compat.v1.disable_eager_execution()

NOTE = "is accepted for compatibility with OpenSeq2Seq configs and has no effect"


@pytest.fixture(autouse=True)
def fresh_notes(monkeypatch):
  monkeypatch.setattr(params_module, "_NOTED_INERT_KEYS", set())


def test_an_inert_key_is_checked_and_noted_once(capsys):
  spec = {"layout": Inert(["channels_last"], "only one layout")}
  check_params({"layout": "channels_last"}, {}, spec, prefix="encoder_params/")
  check_params({"layout": "channels_last"}, {}, spec, prefix="encoder_params/")
  notes = [line for line in capsys.readouterr().out.splitlines() if NOTE in line]
  assert notes == ["*** Note: encoder_params/layout = 'channels_last' {} (only one layout)".format(NOTE)]
  with pytest.raises(ValueError, match=r"parameter 'layout' is 'channels_first' \(str\), expected one of "
                                       r"\['channels_last'\]"):
    check_params({"layout": "channels_first"}, {}, spec)


def test_an_absent_inert_key_says_nothing(capsys):
  check_params({}, {}, {"layout": Inert(["channels_last"], "only one layout")})
  assert NOTE not in capsys.readouterr().out


@pytest.mark.parametrize("declaring_class,key", [(TDNNEncoder, "normalization"), (TDNNEncoder, "data_format"),
                                                 (Speech2TextDataLayer, "precompute_mel_basis")])
def test_the_jasper_configs_inert_keys_are_declared_inert(declaring_class, key):
  assert isinstance(declaring_class.get_optional_params()[key], Inert)


@pytest.mark.parametrize("owner,key", [(Speech2Text, "finetune"), (Speech2Text, "processed_data_folder"),
                                       (Speech2TextDataLayer, "interactive"), (TDNNEncoder, "drop_block_index")])
def test_keys_that_had_no_effect_are_no_longer_declared(owner, key):
  declared = dict(owner.get_required_params(), **owner.get_optional_params())
  assert key not in declared


def test_run_py_names_each_inert_key_of_the_mini_config_once(env, tmp_path):
  result = run_script(["run.py", "--config_file=configs/speech2text/jasper_tiny_nvgrad.py", "--mode=train",
                       "--logdir=" + str(tmp_path / "log"), "--max_steps=1"], env)
  notes = sorted(line.split(" = ")[0] for line in result.stdout.splitlines() if NOTE in line)
  assert notes == ["*** Note: data_layer_params/precompute_mel_basis", "*** Note: encoder_params/data_format",
                   "*** Note: encoder_params/normalization"]


def test_a_removed_key_is_refused_as_unknown():
  with pytest.raises(ValueError, match="unknown parameter 'data_layer_params/interactive'"):
    Speech2TextDataLayer({"mode": "train", "interactive": False, "num_audio_features": 64, "input_type": "logfbank",
                          "vocab_file": "x", "dataset_files": ["x"]}, None)


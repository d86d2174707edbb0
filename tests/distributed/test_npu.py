"""Ascend path: the NPU session config read back from its serialized proto, the launch-environment contract,
and which npu_bridge classes wrap what (against the test double in fake_npu_bridge/)."""
import os

import pytest
import tensorflow.compat.v1 as tf
from tensorflow.core.protobuf import rewriter_config_pb2

from open_seq2seq.distributed.npu import (PRECISION_MODES, AscendEnvironment, AscendEnvironmentError,
                                          environment_for_rank, npu_bridge_available, npu_broadcast_hook,
                                          npu_distributed_optimizer, npu_session_config, register_npu_ops)
from open_seq2seq.distributed.rank_table import RankTableError, load_rank_table, parse_rank_table

DATA_DIR = os.path.join(os.path.dirname(__file__), "data")
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
EIGHT_DEVICE_TABLE = os.path.join(REPO_ROOT, "scripts", "8p.json")
TWO_SERVER_TABLE = os.path.join(DATA_DIR, "rank_table_2servers_2devices.json")


def read_back(config):
  return tf.ConfigProto.FromString(config.SerializeToString())


def npu_optimizer_of(config):
  custom_optimizers = config.graph_options.rewrite_options.custom_optimizers
  assert [optimizer.name for optimizer in custom_optimizers] == ["NpuOptimizer"]
  return custom_optimizers[0]


def test_training_config():
  config = read_back(npu_session_config("train"))
  npu_optimizer = npu_optimizer_of(config)
  assert npu_optimizer.parameter_map["use_off_line"].b
  assert npu_optimizer.parameter_map["precision_mode"].s == b"allow_mix_precision"
  assert "graph_run_mode" not in npu_optimizer.parameter_map
  rewrite_options = config.graph_options.rewrite_options
  assert rewrite_options.remapping == rewriter_config_pb2.RewriterConfig.OFF
  assert list(rewrite_options.optimizers) == ["pruning", "function", "constfold", "shape", "arithmetic", "loop",
                                              "dependency", "layout", "memory", "GradFusionOptimizer"]
  assert not config.allow_soft_placement and not config.gpu_options.allow_growth
  assert config.gpu_options.visible_device_list == ""
  assert config.graph_options.optimizer_options.global_jit_level == tf.OptimizerOptions.DEFAULT


def test_evaluation_config():
  config = read_back(npu_session_config("eval", local_rank=5))
  npu_optimizer = npu_optimizer_of(config)
  assert npu_optimizer.parameter_map["use_off_line"].b
  assert npu_optimizer.parameter_map["precision_mode"].s == b"allow_mix_precision"
  assert "graph_run_mode" not in npu_optimizer.parameter_map
  assert config.graph_options.rewrite_options.remapping == rewriter_config_pb2.RewriterConfig.OFF
  assert list(config.graph_options.rewrite_options.optimizers) == []
  assert config.gpu_options.allow_growth
  assert config.gpu_options.visible_device_list == "5"


def test_inference_config():
  config = read_back(npu_session_config("infer", precision_mode="force_fp16"))
  npu_optimizer = npu_optimizer_of(config)
  assert npu_optimizer.parameter_map["use_off_line"].b
  assert npu_optimizer.parameter_map["precision_mode"].s == b"force_fp16"
  assert "graph_run_mode" in npu_optimizer.parameter_map
  assert npu_optimizer.parameter_map["graph_run_mode"].i == 0
  assert config.graph_options.rewrite_options.remapping == rewriter_config_pb2.RewriterConfig.OFF
  assert list(config.graph_options.rewrite_options.optimizers) == []


def test_device_list_and_xla():
  config = read_back(npu_session_config("train", local_rank=0, use_xla_jit=True))
  assert config.gpu_options.visible_device_list == "0"
  assert config.graph_options.optimizer_options.global_jit_level == tf.OptimizerOptions.ON_1


@pytest.mark.parametrize("precision_mode", PRECISION_MODES)
def test_every_documented_precision_mode_is_accepted(precision_mode):
  npu_optimizer = npu_optimizer_of(read_back(npu_session_config("train", precision_mode=precision_mode)))
  assert npu_optimizer.parameter_map["precision_mode"].s == precision_mode.encode()


@pytest.mark.parametrize("precision_mode", ["fp16", "ALLOW_MIX_PRECISION", "", None])
def test_unknown_precision_mode_is_rejected(precision_mode):
  with pytest.raises(ValueError, match="precision_mode must be one of allow_fp32_to_fp16, force_fp16, "
                                       "must_keep_origin_dtype, allow_mix_precision"):
    npu_session_config("train", precision_mode=precision_mode)


def test_unknown_mode_is_rejected():
  with pytest.raises(ValueError, match="mode must be one of train, eval, infer, got 'train_eval'"):
    npu_session_config("train_eval")


def test_single_device_environment():
  environment = AscendEnvironment.from_environ({"RANK_SIZE": "1", "DEVICE_INDEX": "0", "DEVICE_ID": "3",
                                                "JOB_ID": "10087"})
  assert (environment.size(), environment.rank(), environment.local_rank()) == (1, 0, 3)
  assert environment.job_id == "10087" and environment.rank_table is None


def test_launcher_environment_round_trips_for_every_rank():
  table = load_rank_table(EIGHT_DEVICE_TABLE)
  for rank in range(8):
    variables = environment_for_rank(table, rank, job_id=9999001)
    assert variables["RANK_TABLE_FILE"] == os.path.abspath(EIGHT_DEVICE_TABLE)
    environment = AscendEnvironment.from_environ(variables)
    assert (environment.size(), environment.rank(), environment.local_rank()) == (8, rank, rank)
    assert environment.rank_id == str(rank) and environment.job_id == "9999001"
    assert environment.rank_table == table


def test_environment_for_a_rank_on_the_second_server():
  variables = environment_for_rank(load_rank_table(TWO_SERVER_TABLE), 3, job_id="10087")
  assert variables == {"RANK_SIZE": "4", "RANK_ID": "3", "DEVICE_INDEX": "3", "DEVICE_ID": "1",
                       "ASCEND_DEVICE_ID": "1", "RANK_TABLE_FILE": os.path.abspath(TWO_SERVER_TABLE),
                       "JOB_ID": "10087"}


def test_environment_needs_a_table_read_from_a_file():
  with open(TWO_SERVER_TABLE) as handle:
    table = parse_rank_table(handle.read())
  with pytest.raises(ValueError, match="must come from a file"):
    environment_for_rank(table, 0, job_id="1")


EIGHT_DEVICE_RANK_5 = {"RANK_SIZE": "8", "DEVICE_INDEX": "5", "DEVICE_ID": "5", "RANK_ID": "5",
                       "RANK_TABLE_FILE": EIGHT_DEVICE_TABLE, "JOB_ID": "1"}
ENVIRONMENT_ERRORS = [
    ("RANK_SIZE missing", {"RANK_SIZE": None}, "RANK_SIZE is not set"),
    ("DEVICE_INDEX missing", {"DEVICE_INDEX": None}, "DEVICE_INDEX is not set"),
    ("DEVICE_ID empty", {"DEVICE_ID": ""}, "DEVICE_ID is not set"),
    ("RANK_SIZE not an integer", {"RANK_SIZE": "eight"}, "RANK_SIZE='eight' is not an integer"),
    ("DEVICE_ID fractional", {"DEVICE_ID": "1.0"}, "DEVICE_ID='1.0' is not an integer"),
    ("DEVICE_INDEX padded", {"DEVICE_INDEX": " 5"}, "DEVICE_INDEX=' 5' is not an integer"),
    ("RANK_SIZE zero", {"RANK_SIZE": "0"}, "RANK_SIZE=0 must be at least 1"),
    ("DEVICE_ID negative", {"DEVICE_ID": "-1"}, "DEVICE_ID=-1 must be at least 0"),
    ("DEVICE_INDEX beyond RANK_SIZE", {"DEVICE_INDEX": "8"}, "DEVICE_INDEX=8 must be below RANK_SIZE=8"),
    ("no table for several ranks", {"RANK_TABLE_FILE": None}, "RANK_TABLE_FILE is not set, but RANK_SIZE=8"),
    ("table of another size", {"RANK_SIZE": "16"}, "RANK_SIZE=16 but RANK_TABLE_FILE"),
    ("device the table does not assign", {"DEVICE_ID": "2"}, "DEVICE_ID=2 but RANK_TABLE_FILE"),
]


@pytest.mark.parametrize("changes,message", [case[1:] for case in ENVIRONMENT_ERRORS],
                         ids=[case[0] for case in ENVIRONMENT_ERRORS])
def test_environment_errors(changes, message):
  variables = dict(EIGHT_DEVICE_RANK_5)
  for name, value in changes.items():
    if value is None:
      del variables[name]
    else:
      variables[name] = value
  with pytest.raises(AscendEnvironmentError) as caught:
    AscendEnvironment.from_environ(variables)
  assert message in str(caught.value) and isinstance(caught.value, ValueError)


def test_environment_reports_a_broken_rank_table(tmp_path):
  broken = tmp_path / "8p.json"
  broken.write_text("{")
  with pytest.raises(RankTableError, match=str(broken)):
    AscendEnvironment.from_environ(dict(EIGHT_DEVICE_RANK_5, RANK_TABLE_FILE=str(broken)))


def test_npu_pieces_need_npu_bridge(no_npu_bridge):
  assert not npu_bridge_available()
  with pytest.raises(ImportError, match="npu_bridge.estimator.npu.npu_optimizer is part of Huawei's npu_bridge"):
    npu_distributed_optimizer(tf.train.GradientDescentOptimizer(0.1))
  with pytest.raises(ImportError, match="npu_bridge.estimator.npu.npu_hook"):
    npu_broadcast_hook(0)
  with pytest.raises(ImportError, match="npu_bridge.estimator.npu_ops"):
    register_npu_ops()


def test_availability_follows_the_import_path(no_npu_bridge, request):
  assert not npu_bridge_available()
  request.getfixturevalue("fake_npu_bridge")
  assert npu_bridge_available()


def test_distributed_optimizer_wraps_the_given_optimizer(fake_npu_bridge):
  optimizer = tf.train.GradientDescentOptimizer(0.1)
  wrapped = npu_distributed_optimizer(optimizer)
  assert type(wrapped).__module__ == "npu_bridge.estimator.npu.npu_optimizer"
  assert type(wrapped).__name__ == "NPUDistributedOptimizer"
  assert wrapped.wrapped_optimizer is optimizer


def test_broadcast_hook_sends_from_rank_zero(fake_npu_bridge):
  hook = npu_broadcast_hook(6)
  assert type(hook).__module__ == "npu_bridge.estimator.npu.npu_hook"
  assert type(hook).__name__ == "NPUBroadcastGlobalVariablesHook"
  assert (hook.root_rank, hook.index) == (0, 6)


def test_op_registration_imports_npu_ops(fake_npu_bridge):
  assert register_npu_ops().__name__ == "npu_bridge.estimator.npu_ops"

"""Ascend NPU path: the session configuration the NPU runtime needs, the per-rank environment contract, and
the npu_bridge pieces that replace Horovod's optimizer wrapper and broadcast hook.

npu_bridge (Huawei's TensorFlow adapter) exists only on Ascend machines, so it is imported lazily and only
by the functions that hand out its classes; everything else here is plain TensorFlow protos and Python.
"""
import functools
import importlib
import os
import re
from dataclasses import dataclass
from typing import Optional

import tensorflow.compat.v1 as tf
from tensorflow.core.protobuf import rewriter_config_pb2

from open_seq2seq.distributed.rank_table import RankTable, load_rank_table

PRECISION_MODES = ("allow_fp32_to_fp16", "force_fp16", "must_keep_origin_dtype", "allow_mix_precision")
SESSION_MODES = ("train", "eval", "infer")
# Grappler passes the reference runs before the NPU graph optimiser in training (GradFusionOptimizer is the
# NPU's gradient-fusion pass, registered by npu_bridge).
TRAINING_GRAPH_OPTIMIZERS = ("pruning", "function", "constfold", "shape", "arithmetic", "loop", "dependency",
                             "layout", "memory", "GradFusionOptimizer")
INFERENCE_GRAPH_RUN_MODE = 0


@functools.lru_cache(maxsize=None)
def npu_bridge_available():
  """Whether Huawei's npu_bridge imports (cached: the answer does not change within a process)."""
  try:
    importlib.import_module("npu_bridge")
  except ImportError:
    return False
  return True


def npu_session_config(mode, precision_mode="allow_mix_precision", local_rank=None, use_xla_jit=False):
  """A ``tf.ConfigProto`` that hands the graph to the Ascend runtime (the NpuOptimizer custom pass).

  mode: "train" (appends the training graph passes), "eval" (the reference's restore-and-run config) or
  "infer" ("eval" plus graph_run_mode 0: the graph has no training ops, as in the online inference script).
  precision_mode: one of PRECISION_MODES (the online inference script uses "force_fp16").
  local_rank: the device on this host (DEVICE_ID) when running several ranks; None for one process.
  """
  if mode not in SESSION_MODES:
    raise ValueError("mode must be one of {}, got {!r}".format(", ".join(SESSION_MODES), mode))
  if precision_mode not in PRECISION_MODES:
    raise ValueError("precision_mode must be one of {}, got {!r}".format(", ".join(PRECISION_MODES),
                                                                         precision_mode))
  config = tf.ConfigProto()
  rewrite_options = config.graph_options.rewrite_options
  npu_optimizer = rewrite_options.custom_optimizers.add()
  npu_optimizer.name = "NpuOptimizer"
  npu_optimizer.parameter_map["use_off_line"].b = True
  npu_optimizer.parameter_map["precision_mode"].s = tf.compat.as_bytes(precision_mode)
  # The NPU compiles its own fused kernels; Grappler's remapper would fuse ops into CPU/GPU-only kernels.
  rewrite_options.remapping = rewriter_config_pb2.RewriterConfig.OFF
  if mode == "train":
    rewrite_options.optimizers.extend(TRAINING_GRAPH_OPTIMIZERS)
  else:
    config.gpu_options.allow_growth = True
  if mode == "infer":
    npu_optimizer.parameter_map["graph_run_mode"].i = INFERENCE_GRAPH_RUN_MODE
  if local_rank is not None:
    config.gpu_options.visible_device_list = str(local_rank)
  if use_xla_jit:
    config.graph_options.optimizer_options.global_jit_level = tf.OptimizerOptions.ON_1
  return config


class AscendEnvironmentError(ValueError):
  """A missing or inconsistent Ascend launch variable; the message names the variable."""


@dataclass(frozen=True)
class AscendEnvironment:
  """The per-rank variables an Ascend launcher sets (docs/distributed.md), validated.

  size(), rank() and local_rank() answer like Horovod does, so the training code can use either.
  """
  rank_size: int
  device_index: int
  device_id: int
  rank_id: Optional[str] = None
  rank_table_file: Optional[str] = None
  job_id: Optional[str] = None
  rank_table: Optional[RankTable] = None

  @classmethod
  def from_environ(cls, environ=None):
    """Reads RANK_SIZE, DEVICE_INDEX, DEVICE_ID (required) and RANK_ID, RANK_TABLE_FILE, JOB_ID.

    RANK_TABLE_FILE is required when RANK_SIZE > 1 (HCCL needs it); when set, the table must describe
    RANK_SIZE ranks and place rank DEVICE_INDEX on device DEVICE_ID.
    """
    environ = os.environ if environ is None else environ
    rank_size = _integer_variable(environ, "RANK_SIZE", minimum=1)
    device_index = _integer_variable(environ, "DEVICE_INDEX", minimum=0)
    device_id = _integer_variable(environ, "DEVICE_ID", minimum=0)
    if device_index >= rank_size:
      raise AscendEnvironmentError("DEVICE_INDEX={} must be below RANK_SIZE={} (ranks are 0..{})".format(
          device_index, rank_size, rank_size - 1))
    rank_table_file = environ.get("RANK_TABLE_FILE") or None
    if rank_table_file is None and rank_size > 1:
      raise AscendEnvironmentError("RANK_TABLE_FILE is not set, but RANK_SIZE={} needs an HCCL rank table".format(
          rank_size))
    rank_table = None
    if rank_table_file is not None:
      rank_table = load_rank_table(rank_table_file)
      if rank_table.world_size != rank_size:
        raise AscendEnvironmentError("RANK_SIZE={} but RANK_TABLE_FILE {} describes {} ranks".format(
            rank_size, rank_table_file, rank_table.world_size))
      table_device_id = rank_table.location_of(device_index).device_id
      if table_device_id != device_id:
        raise AscendEnvironmentError("DEVICE_ID={} but RANK_TABLE_FILE {} places rank {} (DEVICE_INDEX) on "
                                     "device {}".format(device_id, rank_table_file, device_index, table_device_id))
    return cls(rank_size=rank_size, device_index=device_index, device_id=device_id,
               rank_id=environ.get("RANK_ID") or None, rank_table_file=rank_table_file,
               job_id=environ.get("JOB_ID") or None, rank_table=rank_table)

  def size(self):
    """Number of ranks (RANK_SIZE)."""
    return self.rank_size

  def rank(self):
    """This process's rank (DEVICE_INDEX)."""
    return self.device_index

  def local_rank(self):
    """This process's device on its server (DEVICE_ID)."""
    return self.device_id


def environment_for_rank(table, rank, job_id):
  """The variables a launcher sets for ``rank`` of a rank table loaded from a file (strings, for os.environ).

  RANK_TABLE_FILE is made absolute because launchers start each rank in its own working directory.
  """
  if not os.path.isfile(table.source):
    raise ValueError("the rank table must come from a file (RANK_TABLE_FILE points at it), got {!r}".format(
        table.source))
  device_id = table.location_of(rank).device_id
  return {
      "RANK_SIZE": str(table.world_size),
      "RANK_ID": str(rank),
      "DEVICE_INDEX": str(rank),
      "DEVICE_ID": str(device_id),
      "ASCEND_DEVICE_ID": str(device_id),
      "RANK_TABLE_FILE": os.path.abspath(table.source),
      "JOB_ID": str(job_id),
  }


def register_npu_ops():
  """Imports npu_bridge's op definitions; graphs that use NPU-only ops need this before they are built."""
  return _import_npu_bridge_module("npu_bridge.estimator.npu_ops")


def npu_distributed_optimizer(optimizer):
  """Wraps ``optimizer`` so compute_gradients averages every gradient over the ranks with HCCL."""
  npu_optimizer = _import_npu_bridge_module("npu_bridge.estimator.npu.npu_optimizer")
  return npu_optimizer.NPUDistributedOptimizer(optimizer)


def npu_broadcast_hook(rank):
  """A session hook that copies every global variable from rank 0 when the session is created."""
  npu_hook = _import_npu_bridge_module("npu_bridge.estimator.npu.npu_hook")
  return npu_hook.NPUBroadcastGlobalVariablesHook(root_rank=0, index=rank)


def _import_npu_bridge_module(name):
  try:
    return importlib.import_module(name)
  except ImportError as error:
    raise ImportError("{} is part of Huawei's npu_bridge, which is only installed on Ascend machines "
                      "(select_backend() is not \"npu\" here)".format(name)) from error


def _integer_variable(environ, name, minimum):
  if name not in environ or environ[name] == "":
    raise AscendEnvironmentError("{} is not set".format(name))
  text = environ[name]
  # int() would also take " 3", "+3", "3_0" and non-ASCII digits, none of which a launcher writes.
  if not re.fullmatch(r"-?[0-9]+", text):
    raise AscendEnvironmentError("{}={!r} is not an integer".format(name, text))
  value = int(text)
  if value < minimum:
    raise AscendEnvironmentError("{}={} must be at least {}".format(name, value, minimum))
  return value

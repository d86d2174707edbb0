"""TensorFlow session settings of every run: training, evaluation and inference from checkpoints, and the frozen
graph's inference, on CPU/GPU or, when npu_bridge imports, on Ascend."""
import tensorflow.compat.v1 as tf
from tensorflow.core.protobuf import rewriter_config_pb2

from open_seq2seq.distributed.backend import select_backend
from open_seq2seq.distributed.npu import npu_session_config


def session_config(params, mode="train", workers=None):
  """The reference's session settings: soft placement and on-demand GPU memory, one GPU per worker, XLA
  when ``use_xla_jit``; on Ascend the NPU configuration instead (spec 8.1). ``params``: a model's, defaults
  filled in."""
  backend = select_backend()
  local_rank = workers.local_rank() if workers is not None else None
  if backend == "npu":
    return npu_session_config(mode, local_rank=local_rank, use_xla_jit=params["use_xla_jit"])
  config = _placement_config()
  if backend == "gpu" and local_rank is not None:
    config.gpu_options.visible_device_list = str(local_rank)
  if params["use_xla_jit"]:
    config.graph_options.optimizer_options.global_jit_level = tf.OptimizerOptions.ON_1
  return config


def inference_session_config(precision_mode="force_fp16"):
  """The tf.ConfigProto of frozen-graph inference: the NPU inference configuration on Ascend (``precision_mode``,
  one of open_seq2seq.distributed.npu.PRECISION_MODES, applies there only), else the placement settings with
  Grappler's arithmetic optimizer off (so the folded residual sums fuse into the convolutions)."""
  if select_backend() == "npu":
    return npu_session_config("infer", precision_mode=precision_mode)
  config = _placement_config()
  # Grappler's arithmetic optimizer merges the chain of two-input AddN that sums a folded graph's residual
  # branches (parts/conv_block.py) into one n-ary AddN, which its remapper cannot fuse: the remapper fuses
  # Conv2D + BiasAdd + a two-input AddN (+ Relu) into one oneDNN convolution with a sum (and ReLU) post-op.
  # Without it, every residual sum and ReLU of an exported Jasper graph runs inside a convolution.
  config.graph_options.rewrite_options.arithmetic_optimization = rewriter_config_pb2.RewriterConfig.OFF
  return config


def _placement_config():
  """Soft placement, and GPU memory grown on demand rather than taken whole."""
  config = tf.ConfigProto(allow_soft_placement=True)
  config.gpu_options.allow_growth = True
  return config

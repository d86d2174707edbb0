"""bench/flop_count.py against two independent counts of a built inference graph with static shapes: the
actual shapes of its Conv2D/MatMul ops (2 * output elements * kernel taps * C_in) and TensorFlow's own
registered ``flops`` statistics of those ops (what tf.profiler reports as float_ops)."""
import re

import pytest
import tensorflow.compat.v1 as tf
from tensorflow.python.framework import ops

from bench.flop_count import TRAIN_STEP_FORWARDS, config_forward_flops, conv_output_length, encoder_convolutions
from open_seq2seq.export.inference_graph import build_inference_graph
from open_seq2seq.utils.config import load_config_module

MINI = "configs/speech2text/jasper_mini_nvgrad_masks.py"
FIVE_BY_THREE = "configs/speech2text/jasper5x3_LibriSpeech_nvgrad_masks_1p.py"
# The op's variable scope: conv{b}{r}, its residual projections conv{b}{r}/res[_i], and conv{b}{r}_1 for the
# main conv of a block's last sub-block (created after the projections, in the same scope name).
SCOPE = re.compile(r"w2l_encoder/(conv\d+)(?:_\d+)?(/res(?:_\d+)?)?/convolution$")


def layer(repeat, kernel, channels, stride=1, dilation=1, padding="SAME", **extra):
  return dict({"type": "conv1d", "repeat": repeat, "kernel_size": [kernel], "stride": [stride],
               "num_channels": channels, "padding": padding, "dilation": [dilation]}, **extra)


# Every branch of the encoder: stride 2, VALID padding, dilation, plain and dense residual blocks.
VARIED_LAYERS = [
    layer(1, 7, 24, stride=2),
    layer(1, 5, 24, padding="VALID"),
    layer(2, 5, 16, residual=True),
    layer(2, 3, 24, residual=True, residual_dense=True),
    layer(3, 3, 32, residual=True, residual_dense=True),
    layer(1, 9, 40, dilation=2),
    layer(1, 1, 48),
]


def graph_flops(config_module, batch_size, num_frames):
  """(FLOPs per encoder conv scope from the Conv2D ops' shapes, FC FLOPs from the MatMul's shapes,
  total of TensorFlow's registered flops statistics of the Conv2D and MatMul ops)."""
  per_scope, fc, registered = {}, 0, 0
  with tf.Graph().as_default() as graph:
    build_inference_graph(config_module, "float32", batch_size=batch_size, num_frames=num_frames)
    for op in graph.get_operations():
      if op.type not in ("Conv2D", "MatMul"):
        continue
      registered += ops.get_stats_for_node_def(graph, op.node_def, "flops").value
      output, weights = op.outputs[0].shape.as_list(), op.inputs[1].shape.as_list()
      if op.type == "MatMul":
        fc += 2 * output[0] * output[1] * weights[0]
        continue
      # NHWC output [B', 1, T', C_out], filter [1, k, C_in, C_out]; a dilated conv runs on space-to-batch
      # blocks (B' = B * dilation), so B' * T' still counts every output frame once.
      flops = 2 * output[0] * output[1] * output[2] * weights[0] * weights[1] * weights[2] * weights[3]
      scope = "".join(part or "" for part in SCOPE.search(op.name).groups())
      per_scope[scope] = per_scope.get(scope, 0) + flops
  return per_scope, fc, registered


def with_layers(config_module, convnet_layers):
  """``config_module`` (a fresh load_config_module result, changed in place) with other encoder layers."""
  config_module["base_params"]["encoder_params"]["convnet_layers"] = convnet_layers
  return config_module


@pytest.mark.parametrize("name,num_frames", [("mini", 64), ("mini", 50), ("varied", 64), ("varied", 77)])
def test_analytic_count_matches_the_graph_ops(name, num_frames):
  config_module = load_config_module(MINI)
  if name == "varied":
    config_module = with_layers(config_module, VARIED_LAYERS)
  batch_size = 3
  per_scope, fc, registered = graph_flops(config_module, batch_size, num_frames)
  base = config_module["base_params"]
  frames = num_frames + (-num_frames % base["data_layer_params"]["pad_to"])
  convolutions, _, _ = encoder_convolutions(base["encoder_params"]["convnet_layers"],
                                            base["data_layer_params"]["num_audio_features"], frames)
  analytic = {c["name"]: batch_size * 2 * c["kernel"] * c["c_in"] * c["c_out"] * c["t_out"] for c in convolutions}
  assert analytic == per_scope
  totals = config_forward_flops(config_module, batch_size, num_frames)
  assert totals["conv"] == sum(per_scope.values())
  assert totals["fc"] == fc
  assert totals["total"] == registered


def test_five_by_three_totals():
  """The 5x3 model at B=1, T=1600: 800 output frames (stride 2), one 1x1 projection per dense source."""
  config_module = load_config_module(FIVE_BY_THREE)
  convolutions, channels, length = encoder_convolutions(
      config_module["base_params"]["encoder_params"]["convnet_layers"], 64, 1600)
  assert (channels, length) == (1024, 800)
  assert len([c for c in convolutions if "/res" in c["name"]]) == 1 + 2 + 3 + 4 + 5
  totals = config_forward_flops(config_module, 1, 1600)
  assert totals["fc"] == 2 * 1024 * 29 * 800
  assert totals["total"] == pytest.approx(175.47e9, rel=1e-4)
  assert config_forward_flops(config_module, 8, 1600)["total"] == 8 * totals["total"]
  assert TRAIN_STEP_FORWARDS == 3


@pytest.mark.parametrize("length,kernel,stride,dilation,padding,expected", [
    (64, 11, 2, 1, "SAME", 32), (65, 11, 2, 1, "SAME", 33), (64, 5, 1, 1, "VALID", 60),
    (64, 5, 2, 1, "VALID", 30), (64, 9, 1, 2, "VALID", 48), (4, 9, 1, 1, "VALID", 0)])
def test_conv_output_length(length, kernel, stride, dilation, padding, expected):
  assert conv_output_length(length, kernel, stride, dilation, padding) == expected


def test_conv_output_length_rejects_unknown_padding():
  with pytest.raises(ValueError, match="padding"):
    conv_output_length(10, 3, 1, 1, "CAUSAL")

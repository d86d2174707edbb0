"""Analytic FLOP count of a Jasper forward pass from its config: the convolutions and the final FC layer.

Every conv layer of the TDNN encoder costs ``2 * k * C_in * C_out * T_out`` per utterance (a multiply and an
add per kernel tap, zero-padded taps included, as a dense GEMM computes them), and so does every 1x1
projection of a residual branch (one per dense-residual source); the CTC decoder's FC layer costs
``2 * C_last * (V + 1) * T_out``. Batch norm, activations, masks and the residual sums are left out: they
are O(C * T) per layer against O(k * C^2 * T) and are not GEMM work. A training step (forward + backward)
counts as ``TRAIN_STEP_FORWARDS`` forward passes.
"""
import os
import sys

from open_seq2seq.data.vocab import vocab_params

TRAIN_STEP_FORWARDS = 3


def conv_output_length(length, kernel, stride, dilation, padding):
  """Output frames of a 1-D convolution over ``length`` frames (TensorFlow's SAME/VALID rule)."""
  if padding == "SAME":
    return -(-length // stride)
  if padding == "VALID":
    return max(0, (length - dilation * (kernel - 1) - 1) // stride + 1)
  raise ValueError("padding must be 'SAME' or 'VALID', got {!r}".format(padding))


def encoder_convolutions(convnet_layers, num_audio_features, num_frames):
  """The encoder's convolutions in build order: dicts with ``name`` (the variable scope), ``kernel``,
  ``c_in``, ``c_out`` and ``t_out`` (frames per utterance), 1x1 residual projections included.

  Follows TDNNEncoder: a residual block's input joins the dense sources (or is the single source without
  ``residual_dense``); the block's last sub-block adds a 1x1 conv of every source, each at its own length.
  """
  channels, length = num_audio_features, num_frames
  dense_sources, convolutions = [], []
  for block_index, layer in enumerate(convnet_layers, start=1):
    kernel, stride, dilation = layer["kernel_size"][0], layer["stride"][0], layer["dilation"][0]
    residual_sources = []
    if layer.get("residual", False):
      if layer.get("residual_dense", False):
        dense_sources.append((channels, length))
        residual_sources = list(dense_sources)
      else:
        residual_sources = [(channels, length)]
    for sub_index in range(1, layer["repeat"] + 1):
      name = "conv{}{}".format(block_index, sub_index)
      out_length = conv_output_length(length, kernel, stride, dilation, layer["padding"])
      if sub_index == layer["repeat"]:
        dense = layer.get("residual_dense", False)
        for index, (source_channels, source_length) in enumerate(residual_sources):
          convolutions.append({"name": "{}/res{}".format(name, "_{}".format(index) if dense else ""), "kernel": 1,
                               "c_in": source_channels, "c_out": layer["num_channels"], "t_out": source_length})
      convolutions.append({"name": name, "kernel": kernel, "c_in": channels, "c_out": layer["num_channels"],
                           "t_out": out_length})
      channels, length = layer["num_channels"], out_length
  return convolutions, channels, length


def layer_flops(convolution):
  return 2 * convolution["kernel"] * convolution["c_in"] * convolution["c_out"] * convolution["t_out"]


def forward_flops(convnet_layers, num_audio_features, num_classes, batch_size, num_frames):
  """``{"conv": ..., "fc": ..., "total": ...}`` FLOPs of one forward pass of ``batch_size`` utterances of
  ``num_frames`` frames (the padded length the graph sees)."""
  convolutions, channels, length = encoder_convolutions(convnet_layers, num_audio_features, num_frames)
  conv = batch_size * sum(layer_flops(c) for c in convolutions)
  fc = batch_size * 2 * channels * num_classes * length
  return {"conv": conv, "fc": fc, "total": conv + fc}


def padded_frames(num_frames, pad_to):
  return num_frames + (-num_frames % pad_to if pad_to else 0)


def config_forward_flops(config_module, batch_size, num_frames, pad=True):
  """``forward_flops`` of a loaded config module (``load_config_module``): its encoder layers, its
  ``num_audio_features`` and its vocabulary plus the CTC blank; ``num_frames`` is rounded up to the data
  layer's ``pad_to`` as the data layers pad batches (``pad=False``: taken as is)."""
  base = config_module["base_params"]
  data_params = base["data_layer_params"]
  num_classes = vocab_params(data_params["vocab_file"])["tgt_vocab_size"]
  frames = padded_frames(num_frames, data_params.get("pad_to", 0)) if pad else num_frames
  return forward_flops(base["encoder_params"]["convnet_layers"], data_params["num_audio_features"], num_classes,
                       batch_size, frames)


def describe(config_file, batch_size=1, num_frames=1600):
  """One line per convolution (name, k, C_in, C_out, T_out, GFLOP) and the totals, for a config file."""
  from open_seq2seq.utils.config import load_config_module
  config_module = load_config_module(config_file)
  base = config_module["base_params"]
  convolutions, _, _ = encoder_convolutions(base["encoder_params"]["convnet_layers"],
                                            base["data_layer_params"]["num_audio_features"], num_frames)
  lines = ["{:<14} k={:<3} C_in={:<5} C_out={:<5} T_out={:<6} {:8.3f} GFLOP".format(
      c["name"], c["kernel"], c["c_in"], c["c_out"], c["t_out"], batch_size * layer_flops(c) / 1e9)
           for c in convolutions]
  totals = config_forward_flops(config_module, batch_size, num_frames)
  lines.append("{}: B={} T={}: conv {:.2f} + FC {:.3f} = {:.2f} GFLOP per forward pass".format(
      os.path.basename(config_file), batch_size, num_frames, totals["conv"] / 1e9, totals["fc"] / 1e9,
      totals["total"] / 1e9))
  return "\n".join(lines)


if __name__ == "__main__":
  print(describe(sys.argv[1] if len(sys.argv) > 1 else "configs/speech2text/jasper5x3_LibriSpeech_nvgrad_masks_1p.py",
                 *(int(v) for v in sys.argv[2:4])))

"""The Jasper layer builders give the reference configs' hand-written ``convnet_layers`` (OpenSeq2Seq's
example_configs/speech2text/jasper10x5_LibriSpeech_nvgrad.py and the Ascend port's 5x3): checked against the
paper's table written out entry by entry, with the original's keys."""
import os

import pytest

from open_seq2seq.encoders.jasper_layers import jasper_blocks
from open_seq2seq.utils.config import load_config_module
from tests.e2e.e2e_helpers import REPO

# (kernel, channels, dropout keep probability) of Jasper's five block kinds: the paper's table 1.
PAPER_BLOCKS = [(11, 256, 0.8), (13, 384, 0.8), (17, 512, 0.8), (21, 640, 0.7), (25, 768, 0.7)]


def _reference_layers(blocks_per_kind, repeat):
  """The original's list, spelt the way its config spells it."""
  layers = [{"type": "conv1d", "repeat": 1, "kernel_size": [11], "stride": [2], "num_channels": 256,
             "padding": "SAME", "dilation": [1], "dropout_keep_prob": 0.8}]
  for kernel, channels, keep in PAPER_BLOCKS:
    layers += [{"type": "conv1d", "repeat": repeat, "kernel_size": [kernel], "stride": [1],
                "num_channels": channels, "padding": "SAME", "dilation": [1], "dropout_keep_prob": keep,
                "residual": True, "residual_dense": True}] * blocks_per_kind
  layers += [{"type": "conv1d", "repeat": 1, "kernel_size": [29], "stride": [1], "num_channels": 896,
              "padding": "SAME", "dilation": [2], "dropout_keep_prob": 0.6},
             {"type": "conv1d", "repeat": 1, "kernel_size": [1], "stride": [1], "num_channels": 1024,
              "padding": "SAME", "dilation": [1], "dropout_keep_prob": 0.6}]
  return layers


@pytest.mark.parametrize("config,blocks_per_kind,repeat", [
    ("jasper10x5_LibriSpeech_nvgrad.py", 2, 5),
    ("jasper10x5_LibriSpeech_nvgrad_masks.py", 2, 5),
    ("jasper5x3_LibriSpeech_nvgrad_masks_1p.py", 1, 3),
    ("jasper5x3_LibriSpeech_nvgrad_masks_8p.py", 1, 3),
])
def test_reference_configs_have_the_originals_layers(config, blocks_per_kind, repeat):
  module = load_config_module(os.path.join(REPO, "configs", "speech2text", config))
  assert module["base_params"]["encoder_params"]["convnet_layers"] == _reference_layers(blocks_per_kind, repeat)


def test_residual_dense_can_be_switched_off():
  assert [layer["residual_dense"] for layer in jasper_blocks([(11, 64, 1.0)] * 2, 2, residual_dense=False)] == [
      False, False]


@pytest.mark.parametrize("table,repeat,blocks_per_row,fragment", [
    ([(11, 64)], 2, 1, "(kernel, channels, keep_prob)"),
    ([(11, 64, 1.0)], 0, 1, "repeat and blocks_per_row must be >= 1"),
    ([(11, 64, 1.0)], 2, 0, "repeat and blocks_per_row must be >= 1"),
])
def test_malformed_tables_are_refused(table, repeat, blocks_per_row, fragment):
  with pytest.raises(ValueError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
    jasper_blocks(table, repeat, blocks_per_row)

"""Builders of TDNNEncoder ``convnet_layers`` entries, so that a Jasper config reads like the paper's table.

Jasper BxR (Li et al. 2019, table 1): a prologue convolution (stride 2), B residual blocks of R sub-blocks each,
and two epilogue convolutions. The entries built here are exactly the dicts OpenSeq2Seq's Jasper configs spell out
by hand (``example_configs/speech2text/jasper10x5_LibriSpeech_nvgrad.py``): same keys, same values.
"""


def conv_layer(kernel, channels, keep_prob, repeat=1, stride=1, dilation=1):
  """One non-residual ``convnet_layers`` entry: ``repeat`` 1-D convolutions of ``kernel`` frames and ``channels``
  output channels, ``stride`` and ``dilation`` in frames, dropout keeping ``keep_prob`` of the activations."""
  return {"type": "conv1d", "repeat": repeat, "kernel_size": [kernel], "stride": [stride], "num_channels": channels,
          "padding": "SAME", "dilation": [dilation], "dropout_keep_prob": keep_prob}


def jasper_blocks(table, repeat, blocks_per_row=1, residual_dense=True):
  """Residual blocks from the paper's table.

  Args:
    table: rows ``(kernel, channels, keep_prob)``, one per distinct block, in order.
    repeat: R, the sub-blocks (convolution, batch norm, activation, dropout) of every block.
    blocks_per_row: how many consecutive blocks each row stands for (2 in Jasper 10x5, whose table lists
      five block kinds for ten blocks).
    residual_dense: dense residual connections (Jasper DR) instead of one residual per block.

  Returns:
    ``len(table) * blocks_per_row`` ``convnet_layers`` entries.

  Raises:
    ValueError: ``repeat`` or ``blocks_per_row`` below 1, or a row that is not ``(kernel, channels, keep_prob)``.
  """
  if repeat < 1 or blocks_per_row < 1:
    raise ValueError("jasper_blocks: repeat and blocks_per_row must be >= 1, got {} and {}".format(
        repeat, blocks_per_row))
  layers = []
  for row in table:
    if len(row) != 3:
      raise ValueError("jasper_blocks: each table row is (kernel, channels, keep_prob), got {!r}".format(row))
    kernel, channels, keep_prob = row
    for _ in range(blocks_per_row):
      layer = conv_layer(kernel, channels, keep_prob, repeat=repeat)
      layer.update(residual=True, residual_dense=residual_dense)
      layers.append(layer)
  return layers

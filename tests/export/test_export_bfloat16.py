"""generate_pb/ckpt2pb.py --dtype=bfloat16 and batch-norm folding against the unfolded float32 export of the same
checkpoint (the tiny config with random weights and random batch-norm statistics): same tensor names, float32
features and logits, bfloat16 weights and convolutions inside, logits within the error that bfloat16's 8-bit
significand (or float32's 24-bit one, for folding alone) allows."""
import numpy as np
import pytest
import tensorflow.compat.v1 as tf
from tensorflow.python.util import _pywrap_util_port

from open_seq2seq.export import ckpt2pb
from open_seq2seq.export.frozen_model import FrozenJasper, read_frozen_graph
from open_seq2seq.export.inference_graph import build_inference_model
from open_seq2seq.export.signature import FLAT_LOGITS, INPUT_NAMES, LOGITS, OUTPUT_NAMES
from open_seq2seq.utils.config import load_config_module
from tests.e2e.e2e_helpers import CONFIG

tf.disable_eager_execution()
# Unit roundoff of bfloat16 (round to nearest, 8 significant bits: 7 stored and the implicit one) and float32 (24).
BF16_UNIT_ROUNDOFF = 2.0 ** -8
FP32_UNIT_ROUNDOFF = 2.0 ** -24
# The exports of the fixture: (dtype, batch norm folded), the first being the reference.
EXPORTS = (("float32", False), ("float32", True), ("bfloat16", True), ("bfloat16", False))
LENGTHS = (203, 157, 64)


def convolution_layers(config_module):
  """Convolution layers on the encoder's path (every sub-block of every block)."""
  return sum(layer["repeat"] for layer in layers(config_module))


def layers(config_module):
  """The encoder's convnet_layers."""
  return config_module["base_params"]["encoder_params"]["convnet_layers"]


def relative_error_bound(config_module):
  """First-order bound on ||logits_bf16 - logits_fp32|| / ||logits_fp32||: one rounding of the features to
  bfloat16, then per convolution layer at most four (its weights, its output, the batch norm's output and the
  residual sum; a folded layer rounds its weights and its fused output only), each a relative error of at most
  the unit roundoff, adding up through the layers (batch norm rescales the activations, so their relative error
  passes on unchanged). The accumulations are float32 and the decoder is float32."""
  return (1 + 4 * convolution_layers(config_module)) * BF16_UNIT_ROUNDOFF


def folding_error_bound(config_module):
  """Bound on the relative difference folding makes in float32: per layer the worst-case error of its dot
  products (n * u for n = kernel width x input channels terms, computed in another order and with scaled
  weights) plus the four roundings of relative_error_bound, adding up through the layers."""
  widest, channels = 0, config_module["base_params"]["data_layer_params"]["num_audio_features"]
  for layer in layers(config_module):
    widest = max(widest, layer["kernel_size"][0] * channels)
    channels = layer["num_channels"]
  return convolution_layers(config_module) * (widest + 4) * FP32_UNIT_ROUNDOFF


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
  """({(dtype, folded): .pb path} for EXPORTS, config module), exported by ckpt2pb from one checkpoint of
  random weights."""
  tmp_path = tmp_path_factory.mktemp("bf16_export")
  config_module = load_config_module(CONFIG)
  rng = np.random.default_rng(17)
  with tf.Graph().as_default():
    build_inference_model(config_module, "float32")
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      for var in tf.global_variables():
        shape, leaf = var.shape.as_list(), var.op.name.rsplit("/", 1)[-1]
        # Batch norm with statistics and affine parameters away from the identity, so it is not a no-op.
        draws = {"gamma": (0.5, 1.5), "beta": (-0.1, 0.1), "moving_mean": (-0.1, 0.1),
                 "moving_variance": (0.5, 2.0)}
        if leaf in draws:
          var.load(rng.uniform(*draws[leaf], shape).astype(np.float32), sess)
      checkpoint = tf.train.Saver().save(sess, str(tmp_path / "model.ckpt"))
  paths = {}
  for dtype, folded in EXPORTS:
    paths[dtype, folded] = str(tmp_path / "{}_{}.pb".format(dtype, "folded" if folded else "plain"))
    assert ckpt2pb.main(["--config_file=" + CONFIG, "--checkpoint=" + checkpoint, "--output_file=" + paths[
        dtype, folded], "--dtype=" + dtype] + ([] if folded else ["--no-fold_batch_norm"])) == 0
  return paths, config_module


def utterances(num_features):
  rng = np.random.default_rng(0)
  return [rng.standard_normal([length, num_features]).astype(np.float32) for length in LENGTHS]


def relative_errors(paths, export):
  """||logits - reference|| / ||reference|| per utterance of the export against the unfolded float32 one."""
  full, other = FrozenJasper(paths[EXPORTS[0]]), FrozenJasper(paths[export])
  assert other.input_dtype == np.float32 and other.num_features == full.num_features
  features = utterances(full.num_features)
  errors = []
  for reference, logits in zip(full.run(features), other.run(features)):
    assert logits.shape == reference.shape and logits.dtype == np.float32
    errors.append(np.linalg.norm(logits - reference) / np.linalg.norm(reference))
  full.close()
  other.close()
  return errors


@pytest.mark.parametrize("folded", [True, False])
def test_bfloat16_logits_are_within_the_rounding_bound_of_float32(exports, folded):
  paths, config_module = exports
  errors = relative_errors(paths, ("bfloat16", folded))
  assert max(errors) <= relative_error_bound(config_module), errors
  # The graph computes in bfloat16: float32 compute would differ by float32 rounding only (~1e-7).
  assert min(errors) > BF16_UNIT_ROUNDOFF / 16, errors


def test_folded_float32_logits_are_within_float32_rounding_of_the_unfolded(exports):
  paths, config_module = exports
  errors = relative_errors(paths, ("float32", True))
  assert max(errors) <= folding_error_bound(config_module), errors


def graph_of(path):
  with tf.Graph().as_default() as graph:
    tf.import_graph_def(read_frozen_graph(path), name="")
  return graph


def constants(graph, *suffixes):
  return [op for op in graph.get_operations() if op.type == "Const" and op.name.endswith(suffixes)]


@pytest.mark.parametrize("export", EXPORTS[1:])
def test_exports_have_the_signature_with_float32_ends(exports, export):
  paths, _ = exports
  graph, reference = graph_of(paths[export]), graph_of(paths[EXPORTS[0]])
  for name in INPUT_NAMES + OUTPUT_NAMES:
    tensor, expected = graph.get_tensor_by_name(name + ":0"), reference.get_tensor_by_name(name + ":0")
    assert tensor.dtype == expected.dtype, name
    assert tensor.shape.as_list() == expected.shape.as_list(), name
  for name in (LOGITS, FLAT_LOGITS, "features"):
    assert graph.get_tensor_by_name(name + ":0").dtype == tf.float32
  dtype = tf.as_dtype(export[0])
  convolutions = [op for op in graph.get_operations() if op.type == "Conv2D"]
  assert convolutions and all(op.get_attr("T") == dtype for op in convolutions)
  # The decoder's dense layer is float32 whatever the export dtype.
  assert [op.get_attr("dtype") for op in constants(graph, "fully_connected/kernel")] == [tf.float32]
  encoder_kernels = constants(graph, "/kernel", "/folded_kernel")
  encoder_kernels = [op for op in encoder_kernels if "w2l_encoder" in op.name]
  assert encoder_kernels and all(op.get_attr("dtype") == dtype for op in encoder_kernels)
  batch_norm_ops = [op for op in graph.get_operations() if op.type.startswith("FusedBatchNorm")]
  statistics = constants(graph, "/moving_mean", "/moving_variance", "/gamma", "/beta")
  if export[1]:
    # Folded: the bias of each convolution in the export dtype, no batch-norm op or statistics left.
    assert not batch_norm_ops and not statistics
    biases = constants(graph, "/folded_bias")
    assert len(biases) == len(encoder_kernels) == len(convolutions)
    assert all(op.get_attr("dtype") == dtype for op in biases)
  else:
    # Unfolded: batch norm keeps its float32 statistics.
    assert len(batch_norm_ops) == len(convolutions)
    assert statistics and all(op.get_attr("dtype") == tf.float32 for op in statistics)


@pytest.mark.skipif(not _pywrap_util_port.IsMklEnabled(), reason="oneDNN is off (TF_ENABLE_ONEDNN_OPTS=0)")
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_folded_graph_runs_every_bias_residual_sum_and_relu_inside_a_convolution(exports, dtype):
  """In FrozenJasper's session (the inference settings) the optimised graph keeps no batch norm, BiasAdd, AddN or
  Relu of the encoder: each is a post-op of a fused oneDNN convolution."""
  paths, _ = exports
  model = FrozenJasper(paths[dtype, True])
  batch, lengths = model.padded_batch(utterances(model.num_features))
  metadata = tf.RunMetadata()
  model.session.run(model.graph.get_tensor_by_name(LOGITS + ":0"),
                    {model.graph.get_tensor_by_name(name + ":0"): value
                     for name, value in zip(INPUT_NAMES, (batch, lengths))},
                    options=tf.RunOptions(output_partition_graphs=True), run_metadata=metadata)
  model.close()
  nodes = [node for graph in metadata.partition_graphs for node in graph.node if "w2l_encoder" in node.name]
  fused = [[op.decode() for op in node.attr["fused_ops"].list.s] for node in nodes if "FusedConv2D" in node.op]
  assert not [node.op for node in nodes if node.op in ("BiasAdd", "AddN", "AddV2", "Relu")
              and node.attr["T"].type != tf.int32.as_datatype_enum]
  assert not [node.op for node in nodes if "BatchNorm" in node.op]
  # The tiny config: 6 convolutions, 1 residual branch, whose sum and ReLU join its block's last convolution.
  assert sorted(map(tuple, fused)) == sorted([("BiasAdd", "Relu")] * 4 + [("BiasAdd",), ("BiasAdd", "Add", "Relu")])


def test_unknown_dtype_is_one_line_naming_the_flag(tmp_path, capsys):
  status = ckpt2pb.cli(["--config_file=" + CONFIG, "--checkpoint=" + str(tmp_path), "--output_file=x.pb",
                        "--dtype=int8"])
  err = capsys.readouterr().err
  assert status == 1 and err.count("\n") == 1
  assert err.startswith("*** Error: argument --dtype: invalid choice: 'int8'")

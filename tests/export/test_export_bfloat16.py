"""generate_pb/ckpt2pb.py --dtype=bfloat16 against the float32 export of the same checkpoint (the tiny config with
random weights and random batch-norm statistics): same tensor names, float32 features and logits, bfloat16
weights and convolutions inside, logits within the error bfloat16's 8-bit significand allows."""
import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from open_seq2seq.export import ckpt2pb
from open_seq2seq.export.frozen_model import FrozenJasper, read_frozen_graph
from open_seq2seq.export.inference_graph import build_inference_model
from open_seq2seq.export.signature import FLAT_LOGITS, INPUT_NAMES, LOGITS, OUTPUT_NAMES
from open_seq2seq.utils.config import load_config_module
from tests.e2e.e2e_helpers import CONFIG

tf.disable_eager_execution()
# Unit roundoff of bfloat16 (round to nearest, 8 significant bits: 7 stored and the implicit one).
BF16_UNIT_ROUNDOFF = 2.0 ** -8
LENGTHS = (203, 157, 64)


def convolution_layers(config_module):
  """Convolution layers on the encoder's path (every sub-block of every block)."""
  return sum(layer["repeat"] for layer in config_module["base_params"]["encoder_params"]["convnet_layers"])


def relative_error_bound(config_module):
  """First-order bound on ||logits_bf16 - logits_fp32|| / ||logits_fp32||: one rounding of the features to
  bfloat16, then per convolution layer at most four (its weights, its output, the batch norm's output and the
  residual sum), each a relative error of at most the unit roundoff, adding up through the layers (batch norm
  rescales the activations, so their relative error passes on unchanged). The decoder is float32."""
  return (1 + 4 * convolution_layers(config_module)) * BF16_UNIT_ROUNDOFF


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
  """(float32 .pb, bfloat16 .pb, config module) exported by ckpt2pb from one checkpoint of random weights."""
  tmp_path = tmp_path_factory.mktemp("bf16_export")
  config_module = load_config_module(CONFIG)
  rng = np.random.default_rng(17)
  with tf.Graph().as_default():
    build_inference_model(config_module, "float32")
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      for var in tf.global_variables():
        shape, name = var.shape.as_list(), var.op.name
        # Batch norm with statistics and affine parameters away from the identity, so it is not a no-op.
        values = {"gamma": rng.uniform(0.5, 1.5, shape), "beta": rng.normal(0, 0.1, shape),
                  "moving_mean": rng.normal(0, 0.1, shape), "moving_variance": rng.uniform(0.5, 2.0, shape)}
        if name.rsplit("/", 1)[-1] in values:
          var.load(values[name.rsplit("/", 1)[-1]].astype(np.float32), sess)
      checkpoint = tf.train.Saver().save(sess, str(tmp_path / "model.ckpt"))
  paths = {}
  for dtype in ("float32", "bfloat16"):
    paths[dtype] = str(tmp_path / (dtype + ".pb"))
    assert ckpt2pb.main(["--config_file=" + CONFIG, "--checkpoint=" + checkpoint, "--output_file=" + paths[dtype],
                         "--dtype=" + dtype]) == 0
  return paths["float32"], paths["bfloat16"], config_module


def utterances(num_features):
  rng = np.random.default_rng(0)
  return [rng.standard_normal([length, num_features]).astype(np.float32) for length in LENGTHS]


def test_bfloat16_logits_are_within_the_rounding_bound_of_float32(exports):
  float32_pb, bfloat16_pb, config_module = exports
  full, low = FrozenJasper(float32_pb), FrozenJasper(bfloat16_pb)
  assert low.input_dtype == np.float32 and low.num_features == full.num_features
  features = utterances(full.num_features)
  bound = relative_error_bound(config_module)
  errors = []
  for reference, logits in zip(full.run(features), low.run(features)):
    assert logits.shape == reference.shape and logits.dtype == np.float32
    errors.append(np.linalg.norm(logits - reference) / np.linalg.norm(reference))
  full.close()
  low.close()
  assert max(errors) <= bound, (errors, bound)
  # The graph computes in bfloat16: float32 compute would differ by float32 rounding only (~1e-7).
  assert min(errors) > BF16_UNIT_ROUNDOFF / 16, errors


def test_bfloat16_graph_has_the_signature_with_float32_ends_and_bfloat16_weights(exports):
  float32_pb, bfloat16_pb, _ = exports
  graphs = {}
  for name, path in (("float32", float32_pb), ("bfloat16", bfloat16_pb)):
    with tf.Graph().as_default() as graph:
      tf.import_graph_def(read_frozen_graph(path), name="")
    graphs[name] = graph
  low, full = graphs["bfloat16"], graphs["float32"]
  for name in INPUT_NAMES + OUTPUT_NAMES:
    tensor, reference = low.get_tensor_by_name(name + ":0"), full.get_tensor_by_name(name + ":0")
    assert tensor.dtype == reference.dtype, name
    assert tensor.shape.as_list() == reference.shape.as_list(), name
  for name in (LOGITS, FLAT_LOGITS, "features"):
    assert low.get_tensor_by_name(name + ":0").dtype == tf.float32
  convolutions = [op for op in low.get_operations() if op.type == "Conv2D"]
  assert convolutions and all(op.get_attr("T") == tf.bfloat16 for op in convolutions)
  kernels = [op for op in low.get_operations() if op.type == "Const" and op.name.endswith("/kernel")]
  encoder_kernels = [op for op in kernels if "w2l_encoder" in op.name]
  assert encoder_kernels and all(op.get_attr("dtype") == tf.bfloat16 for op in encoder_kernels)
  # Batch norm keeps its float32 statistics; the decoder's dense layer is float32.
  assert all(op.get_attr("dtype") == tf.float32 for op in low.get_operations()
             if op.type == "Const" and op.name.endswith(("/moving_mean", "/moving_variance", "/gamma", "/beta")))
  assert all(op.get_attr("dtype") == tf.float32 for op in kernels if "fully_connected" in op.name)


def test_unknown_dtype_is_one_line_naming_the_flag(tmp_path, capsys):
  status = ckpt2pb.cli(["--config_file=" + CONFIG, "--checkpoint=" + str(tmp_path), "--output_file=x.pb",
                        "--dtype=int8"])
  err = capsys.readouterr().err
  assert status == 1 and err.count("\n") == 1
  assert err.startswith("*** Error: argument --dtype: invalid choice: 'int8'")

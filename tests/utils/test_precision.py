"""Model precision names (utils/precision.py): every spelling a config or the command line may give, the one
canonical form each becomes and the type the layers then compute in."""
import pytest
import tensorflow.compat.v1 as tf

from open_seq2seq.encoders import TDNNEncoder
from open_seq2seq.utils.precision import canonical_dtype, compute_dtype, is_mixed, parse_dtype

# spelling -> (canonical form, compute dtype, mixed mode with float32 master weights)
SPELLINGS = {
    tf.float32: (tf.float32, tf.float32, False),
    "float32": (tf.float32, tf.float32, False),
    tf.float16: (tf.float16, tf.float16, False),
    "float16": (tf.float16, tf.float16, False),
    "mixed": ("mixed", tf.float16, True),
    tf.bfloat16: ("bfloat16", tf.bfloat16, True),
    "bfloat16": ("bfloat16", tf.bfloat16, True),
}


@pytest.mark.parametrize("spelling", list(SPELLINGS), ids=str)
def test_each_spelling_has_one_canonical_form_and_compute_type(spelling):
  canonical, compute, mixed = SPELLINGS[spelling]
  assert canonical_dtype(spelling) == canonical
  assert compute_dtype(spelling) == compute
  assert is_mixed(canonical_dtype(spelling)) is mixed


@pytest.mark.parametrize("text,expected", [("mixed", "mixed"), ("float32", tf.float32), ("bfloat16", tf.bfloat16),
                                           ("float16", tf.float16)])
def test_command_line_names(text, expected):
  assert parse_dtype(text) == expected and type(parse_dtype(text)) is type(expected)


def test_unknown_command_line_name_says_what_is_accepted():
  with pytest.raises(ValueError, match="expected mixed or a dtype name such as float32 or bfloat16, got 'fp8'"):
    parse_dtype("fp8")


@pytest.mark.parametrize("dtype,expected", [("mixed", tf.float16), ("bfloat16", tf.bfloat16), (tf.float32, tf.float32)])
def test_a_component_given_a_model_dtype_builds_in_its_compute_type(dtype, expected):
  """Encoders accept every model dtype (bfloat16 included) and create their variables in the compute type."""
  params = {"convnet_layers": [{"type": "conv1d", "repeat": 1, "kernel_size": [3], "stride": [1],
                                "num_channels": 4, "padding": "SAME", "dilation": [1],
                                "dropout_keep_prob": 1.0}],
            "dropout_keep_prob": 1.0, "activation_fn": tf.nn.relu, "dtype": dtype}
  with tf.Graph().as_default():
    encoder = TDNNEncoder(params, None, mode="infer")
    assert encoder.params["dtype"] == expected
    features = tf.placeholder(expected, [1, 8, 2])
    encoder.encode({"source_tensors": [features, tf.constant([8])]})
    assert {v.dtype.base_dtype for v in tf.global_variables() if v.op.name.endswith("kernel")} == {expected}

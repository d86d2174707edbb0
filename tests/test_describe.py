"""describe_part: every parameter of a part, read from its declarations (issue 16)."""
import pytest

from open_seq2seq.decoders import FullyConnectedCTCDecoder
from open_seq2seq.describe import describe_part, known_parts
from open_seq2seq.losses import CTCLoss
from open_seq2seq.optimizers import poly_decay
from open_seq2seq.utils.params import Param, Range

DTYPES = "one of [tf.float32, tf.float16, tf.bfloat16, 'mixed', 'bfloat16', 'float32', 'float16']"
FULLY_CONNECTED_CTC_DECODER = [
    "FullyConnectedCTCDecoder (decoder_params)",
    "  tgt_vocab_size (required; int >= 1): characters V of the vocabulary, without the CTC blank (Speech2Text "
    "sets it from the data layer)",
    "  dtype (optional; " + DTYPES + "; default None): precision the layers compute in (mixed: float16, "
    "bfloat16); None: the model's",
    "  infer_logits_to_pickle (optional; bool; default False): infer mode outputs each utterance's [T', V+1] "
    "logits (a logits .npz file) instead of transcripts",
    "  initializer (optional; a value; default None): initializer class of the variables, called with "
    "initializer_params; None: the model's",
    "  initializer_params (optional; dict; default {}): keyword arguments of initializer",
    "  logits_to_outputs_func (optional; a value; default None): function (time-major logits [T', B, V+1], "
    "decoder input dict) -> outputs; None: greedy CTC decoding",
    "  regularizer (optional; a value; default None): regularizer class of the kernels, called with "
    "regularizer_params; when the key is absent, the model's",
    "  regularizer_params (optional; dict; default {}): keyword arguments of regularizer",
    "  use_language_model (optional; one of [False]; default False): in-graph language-model decoding is not "
    "implemented: False only (scripts/decode.py decodes saved logits with an n-gram LM)",
]


def test_a_decoder_is_described_line_by_line():
  assert describe_part("FullyConnectedCTCDecoder").split("\n") == FULLY_CONNECTED_CTC_DECODER


def test_the_class_itself_describes_the_same():
  assert describe_part(FullyConnectedCTCDecoder) == describe_part("FullyConnectedCTCDecoder")


def test_a_loss_an_lr_policy_and_larc():
  assert describe_part(CTCLoss) == (
      "CTCLoss (loss_params)\n"
      "  mask_nan (optional; bool; default True): an utterance that cannot be aligned to its frames gets loss 0 "
      "and no gradient (and is counted) instead of TensorFlow's 0 or inf")
  policy = describe_part(poly_decay).split("\n")
  assert policy[:2] == ["poly_decay (lr_policy_params)",
                        "  learning_rate (required; float > 0): peak rate lr0, reached at the end of the warm-up"]
  assert "  power (optional; float >= 0; default 1.0): exponent of the decay" in policy
  assert describe_part("LARC").split("\n")[1].startswith("  larc_eta (required; float > 0): ")


def test_the_encoder_lists_its_layer_keys_too():
  lines = describe_part("TDNNEncoder").split("\n")
  assert lines[0] == "TDNNEncoder (encoder_params)"
  assert "  bn_momentum (optional; float in [0, 1]; default 0.9): momentum of the batch-norm moving mean and " \
         "variance" in lines
  assert "each entry of encoder_params/convnet_layers" in lines
  assert any(line.startswith("  data_format (optional; one of ['channels_last']; default None): no effect here: ")
             for line in lines)


def test_every_known_part_is_described():
  for name in known_parts():
    lines = describe_part(name).split("\n")
    assert len(lines) >= 2 and not lines[0].startswith(" "), name
  assert describe_part("augmentation").split("\n")[0] == "augmentation (data_layer_params/augmentation)"


def test_a_class_outside_the_registry_is_described_from_its_declarations():

  class Tiny(CTCLoss):

    @staticmethod
    def get_optional_params():
      return {"width": Param(Range(int, low=1), 3, "frames: the width"), "legacy": bool}

  assert describe_part(Tiny).split("\n") == [
      "Tiny (loss_params)", "  legacy (optional; bool; default None): (undocumented: a bare spec)",
      "  width (optional; int >= 1; default 3): frames: the width"]


def test_an_unknown_name_is_refused_naming_the_known_parts():
  with pytest.raises(ValueError) as error:
    describe_part("TDNNEncodr")
  message = str(error.value)
  assert message.startswith("Unknown part 'TDNNEncodr'; known parts: ")
  for name in ("TDNNEncoder", "Speech2TextDataLayer", "Speech2Text", "NovoGrad", "CTCLoss",
               "FullyConnectedCTCDecoder", "poly_decay", "Backoff", "LARC", "augmentation"):
    assert name in message

"""Fully connected CTC decoder: a per-frame dense layer to the vocabulary plus the CTC blank."""
import tensorflow.compat.v1 as tf

from open_seq2seq.utils.params import Param, Range
from .decoder import Decoder
from .greedy_ctc import greedy_ctc_decode


class FullyConnectedCTCDecoder(Decoder):
  """Logits ``[B, T', V+1]`` (batch-major tensor ``.../logits``) and greedy CTC predictions.

  Graph names match OpenSeq2Seq's so exported graphs keep the same node names:
  ``fully_connected/kernel``, ``fully_connected/bias``, op ``fully_connected/BiasAdd`` ``[B*T', V+1]``
  and the reshape ``logits``.
  """

  @staticmethod
  def get_required_params():
    """Adds ``tgt_vocab_size``."""
    return dict(Decoder.get_required_params(), **{
        "tgt_vocab_size": Param(Range(int, low=1), doc="characters V of the vocabulary, without the CTC blank "
                                                       "(Speech2Text sets it from the data layer)"),
    })

  @staticmethod
  def get_optional_params():
    """Adds ``logits_to_outputs_func``, ``infer_logits_to_pickle`` and ``use_language_model``."""
    return dict(Decoder.get_optional_params(), **{
        "logits_to_outputs_func": Param(None, None, "function (time-major logits [T', B, V+1], decoder input dict) "
                                                    "-> outputs; None: greedy CTC decoding"),
        "infer_logits_to_pickle": Param(bool, False, "infer mode outputs each utterance's [T', V+1] logits (a "
                                                     "logits .npz file) instead of transcripts"),
        "use_language_model": Param([False], False, "in-graph language-model decoding is not implemented: False "
                                                    "only (scripts/decode.py decodes saved logits with an n-gram LM)"),
    })

  def __init__(self, params, model, name="fully_connected_ctc_decoder", mode="train"):
    super().__init__(params, model, name, mode)

  def _decode(self, input_dict):
    encoder_output = input_dict["encoder_output"]
    inputs = encoder_output["outputs"]
    src_length = encoder_output["src_length"]
    num_classes = self._params["tgt_vocab_size"]
    regularizer = self.regularizer()
    channels = int(inputs.shape[-1])
    batch_size, time_steps = tf.shape(inputs)[0], tf.shape(inputs)[1]
    flat = tf.reshape(inputs, [-1, channels])
    with tf.variable_scope("fully_connected"):
      kernel = tf.get_variable("kernel", [channels, num_classes], regularizer=regularizer)
      bias = tf.get_variable("bias", [num_classes], initializer=tf.zeros_initializer())
      flat_logits = tf.nn.bias_add(tf.matmul(flat, kernel), bias, name="BiasAdd")
    logits = tf.reshape(flat_logits, [batch_size, time_steps, num_classes], name="logits")
    if self._mode == "infer" and self._params["infer_logits_to_pickle"]:
      return {"logits": logits, "outputs": [logits, src_length], "src_length": src_length}
    time_major_logits = tf.transpose(logits, [1, 0, 2])
    outputs_fn = self._params["logits_to_outputs_func"] or (lambda lg, _: [greedy_ctc_decode(lg, src_length)])
    return {"logits": time_major_logits, "outputs": outputs_fn(time_major_logits, input_dict),
            "src_length": src_length}

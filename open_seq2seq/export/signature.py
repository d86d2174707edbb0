"""The signature of exported Jasper graphs: the names, shapes and dtypes every exporter and runtime relies on.

Inputs:  ``features`` [B, T, F] (an EXPORT_DTYPES dtype), normalised log-mel features, zeros past each row's
         length; ``features_length`` [B] int32, the valid frames of each row.
Outputs: ``ForwardPass/fully_connected_ctc_decoder/logits`` [B, T', V+1] batch-major (the export dtype; the last
         class is the CTC blank), ``ForwardPass/fully_connected_ctc_decoder/fully_connected/BiasAdd``
         [B*T', V+1] (the same values flattened: the reference's output node) and ``logits_length`` [B] int32,
         the valid frames of each row of the logits.
T' = ceil(T_padded / stride) with T_padded = T rounded up to the data layer's ``pad_to``. Tensor names are
these plus ``:0``; ONNX models drop the ``:0``.
"""
import tensorflow.compat.v1 as tf

# The placeholder data layer creates the inputs, so it names them; they are part of the signature all the same.
from open_seq2seq.data.speech2text.placeholder import FEATURES, FEATURES_LENGTH

LOGITS = "ForwardPass/fully_connected_ctc_decoder/logits"
FLAT_LOGITS = "ForwardPass/fully_connected_ctc_decoder/fully_connected/BiasAdd"
LOGITS_LENGTH = "logits_length"
INPUT_NAMES = (FEATURES, FEATURES_LENGTH)
OUTPUT_NAMES = (LOGITS, FLAT_LOGITS, LOGITS_LENGTH)
EXPORT_DTYPES = {"float32": tf.float32, "float16": tf.float16}

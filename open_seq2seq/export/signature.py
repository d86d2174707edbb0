"""The signature of exported Jasper graphs: the names, shapes and dtypes every exporter and runtime relies on.

Inputs:  ``features`` [B, T, F] (the INTERFACE_DTYPES dtype of the export), normalised log-mel features, zeros
         past each row's length; ``features_length`` [B] int32, the valid frames of each row.
Outputs: ``ForwardPass/fully_connected_ctc_decoder/logits`` [B, T', V+1] batch-major (the INTERFACE_DTYPES
         dtype; the last class is the CTC blank), ``ForwardPass/fully_connected_ctc_decoder/fully_connected/BiasAdd``
         [B*T', V+1] (the same values flattened: the reference's output node) and ``logits_length`` [B] int32,
         the valid frames of each row of the logits.
T' = ceil(T_padded / stride) with T_padded = T rounded up to the data layer's ``pad_to``. Tensor names are
these plus ``:0``; ONNX models drop the ``:0``.

Export dtypes (generate_pb/ckpt2pb.py --dtype): float32 and float16 graphs are that dtype throughout, ends
included. A bfloat16 graph keeps the same names with float32 ends: ``features`` is a float32 placeholder that
the encoder casts to bfloat16 (its weights are bfloat16 constants, batch norm folded into them in float32 before
the rounding, its convolutions run in bfloat16), and the decoder casts the encoder's output back to float32, so
its dense layer, the ``BiasAdd`` node and ``logits`` are float32 by construction, with no renamed cast at the
end. Callers feed and read float32 whatever the export dtype was; only the float16 graph wants float16 features.
"""
import tensorflow.compat.v1 as tf

# The placeholder data layer creates the inputs, so it names them; they are part of the signature all the same.
from open_seq2seq.data.speech2text.placeholder import FEATURES, FEATURES_LENGTH

LOGITS = "ForwardPass/fully_connected_ctc_decoder/logits"
FLAT_LOGITS = "ForwardPass/fully_connected_ctc_decoder/fully_connected/BiasAdd"
LOGITS_LENGTH = "logits_length"
INPUT_NAMES = (FEATURES, FEATURES_LENGTH)
OUTPUT_NAMES = (LOGITS, FLAT_LOGITS, LOGITS_LENGTH)
# --dtype of the exporters -> the dtype the weights are stored and the encoder computes in.
EXPORT_DTYPES = {"float32": tf.float32, "float16": tf.float16, "bfloat16": tf.bfloat16}
# --dtype -> the dtype of the features input and the logits outputs (float32 for bfloat16: see above).
INTERFACE_DTYPES = {"float32": tf.float32, "float16": tf.float16, "bfloat16": tf.float32}

"""A config's model in infer mode on placeholders, with the stable tensor names of exported graphs.

Inputs:  ``features`` [B, T, F] (float32 or float16), ``features_length`` [B] int32.
Outputs: ``ForwardPass/fully_connected_ctc_decoder/logits`` [B, T', V+1] batch-major,
         ``ForwardPass/fully_connected_ctc_decoder/fully_connected/BiasAdd`` [B*T', V+1] (same memory),
         ``logits_length`` [B] int32: the valid frames of each row of the logits.
T' = ceil(T_padded / stride) with T_padded = T rounded up to the data layer's ``pad_to``.
"""
import tensorflow.compat.v1 as tf

from open_seq2seq.data.speech2text.placeholder import FEATURES, FEATURES_LENGTH, PlaceholderSpeechDataLayer
from open_seq2seq.data.speech2text.speech2text import DEFAULT_PAD_TO
from open_seq2seq.utils.config import mode_config

LOGITS = "ForwardPass/fully_connected_ctc_decoder/logits"
FLAT_LOGITS = "ForwardPass/fully_connected_ctc_decoder/fully_connected/BiasAdd"
LOGITS_LENGTH = "logits_length"
INPUT_NAMES = (FEATURES, FEATURES_LENGTH)
OUTPUT_NAMES = (LOGITS, FLAT_LOGITS, LOGITS_LENGTH)
EXPORT_DTYPES = {"float32": tf.float32, "float16": tf.float16}


def inference_params(config_module, dtype, batch_size=None, num_frames=None):
  """The config's infer-mode parameters for one process, its data layer replaced by placeholders.

  dtype: a key of EXPORT_DTYPES; batch_size / num_frames: a static size, or None for any.
  """
  if dtype not in EXPORT_DTYPES:
    raise ValueError("dtype must be one of {}, got {!r}".format(", ".join(EXPORT_DTYPES), dtype))
  params = mode_config(config_module, "infer")
  data_params = params["data_layer_params"]
  for key in ("num_audio_features", "vocab_file"):
    if key not in data_params:
      raise ValueError("Config: data_layer_params has no '{}', which the inference graph needs".format(key))
  params.update(
      dtype=EXPORT_DTYPES[dtype], use_horovod=False, num_gpus=1, eval_batch_size_per_gpu=batch_size or 1,
      data_layer=PlaceholderSpeechDataLayer,
      data_layer_params={"num_audio_features": data_params["num_audio_features"],
                         "vocab_file": data_params["vocab_file"],
                         "pad_to": data_params.get("pad_to", DEFAULT_PAD_TO),
                         "num_frames": num_frames, "static_batch": batch_size is not None})
  params.pop("gpu_ids", None)
  return params


def build_inference_model(config_module, dtype="float32", batch_size=None, num_frames=None):
  """Builds the infer-mode model into the default graph, with the tensor names above; returns the model.

  Variables get the names of the training graph (spec 4.9), so a training checkpoint restores into them.
  """
  params = inference_params(config_module, dtype, batch_size, num_frames)
  model = config_module["base_model"](params=params, mode="infer")
  model.compile()
  tf.identity(model.decoder_output["src_length"], name=LOGITS_LENGTH)
  return model


def inference_tensors(graph=None):
  """``{name: tensor}`` for INPUT_NAMES + OUTPUT_NAMES of a graph holding the inference model."""
  graph = graph or tf.get_default_graph()
  return {name: graph.get_tensor_by_name(name + ":0") for name in INPUT_NAMES + OUTPUT_NAMES}


def build_inference_graph(config_module, dtype="float32", batch_size=None, num_frames=None):
  """Builds the model into the default graph; returns ``{name: tensor}`` for INPUT_NAMES + OUTPUT_NAMES."""
  build_inference_model(config_module, dtype, batch_size, num_frames)
  return inference_tensors()

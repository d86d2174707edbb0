"""A config's model in infer mode on placeholders, with the tensor names and dtypes of signature.py."""
import tensorflow.compat.v1 as tf

from open_seq2seq.data.speech2text.placeholder import PlaceholderSpeechDataLayer
from open_seq2seq.data.speech2text.speech2text import DEFAULT_PAD_TO
from open_seq2seq.utils.config import mode_config
from open_seq2seq.export.signature import EXPORT_DTYPES, INPUT_NAMES, INTERFACE_DTYPES, LOGITS_LENGTH, OUTPUT_NAMES


def inference_params(config_module, dtype, batch_size=None, num_frames=None, fold_batch_norm=False):
  """The config's infer-mode parameters for one process, its data layer replaced by placeholders.

  dtype: a key of EXPORT_DTYPES (the model's dtype; for bfloat16 the model is float32 with a bfloat16 encoder,
  see signature.py); batch_size / num_frames: a static size, or None for any; fold_batch_norm: the encoder
  folds each batch norm into its convolution (TDNNEncoder's ``fold_batch_norm``).
  Raises ValueError for another dtype, or a config whose data layer lacks ``num_audio_features`` or
  ``vocab_file``.
  """
  if dtype not in EXPORT_DTYPES:
    raise ValueError("dtype must be one of {}, got {!r}".format(", ".join(EXPORT_DTYPES), dtype))
  params = mode_config(config_module, "infer")
  data_params = params["data_layer_params"]
  for key in ("num_audio_features", "vocab_file"):
    if key not in data_params:
      raise ValueError("Config: data_layer_params has no '{}', which the inference graph needs".format(key))
  params.update(
      dtype=INTERFACE_DTYPES[dtype], use_horovod=False, num_gpus=1, eval_batch_size_per_gpu=batch_size or 1,
      data_layer=PlaceholderSpeechDataLayer,
      data_layer_params={"num_audio_features": data_params["num_audio_features"],
                         "vocab_file": data_params["vocab_file"],
                         "pad_to": data_params.get("pad_to", DEFAULT_PAD_TO),
                         "num_frames": num_frames, "static_batch": batch_size is not None})
  params.pop("gpu_ids", None)
  if fold_batch_norm:
    params["encoder_params"] = dict(params.get("encoder_params", {}), fold_batch_norm=True)
  if dtype == "bfloat16":
    # The model's own per-component dtypes (parts/component.py): the encoder casts the float32 features to
    # bfloat16 and computes (and keeps its weights) in it, an unfolded batch norm keeping float32 statistics as
    # in bfloat16 training; the decoder casts the encoder's output back, so its small dense layer and the logits
    # are float32.
    params["encoder_params"] = dict(params.get("encoder_params", {}), dtype=EXPORT_DTYPES[dtype])
    params["decoder_params"] = dict(params.get("decoder_params", {}), dtype=tf.float32)
  return params


def build_inference_model(config_module, dtype="float32", batch_size=None, num_frames=None, fold_batch_norm=False):
  """Builds the infer-mode model into the default graph, with the tensors of signature.py; returns the model.

  Variables get the names of the training graph (spec 4.9), so a training checkpoint restores into them.
  Raises ValueError as inference_params does.
  """
  params = inference_params(config_module, dtype, batch_size, num_frames, fold_batch_norm)
  model = config_module["base_model"](params=params, mode="infer")
  model.compile()
  tf.identity(model.decoder_output["src_length"], name=LOGITS_LENGTH)
  return model


def inference_tensors(graph=None):
  """``{name: tensor}`` for INPUT_NAMES + OUTPUT_NAMES of a graph holding the inference model."""
  graph = graph or tf.get_default_graph()
  return {name: graph.get_tensor_by_name(name + ":0") for name in INPUT_NAMES + OUTPUT_NAMES}


def build_inference_graph(config_module, dtype="float32", batch_size=None, num_frames=None, fold_batch_norm=False):
  """Builds the model into the default graph; returns ``{name: tensor}`` for INPUT_NAMES + OUTPUT_NAMES."""
  build_inference_model(config_module, dtype, batch_size, num_frames, fold_batch_norm)
  return inference_tensors()

"""A data layer made of two placeholders: the input side of exported inference graphs."""
import tensorflow.compat.v1 as tf

from open_seq2seq.data.data_layer import DataLayer
from open_seq2seq.data.vocab import vocab_params
from open_seq2seq.utils.params import Param, Range

# The input names of exported graphs (open_seq2seq/export/signature.py holds the whole signature).
FEATURES = "features"
FEATURES_LENGTH = "features_length"


class PlaceholderSpeechDataLayer(DataLayer):
  """Feeds a speech model from placeholders ``features`` ``[B, T, F]`` (the model's dtype) and
  ``features_length`` ``[B]`` int32 (valid frames of each row; frames past it must be zeros, as the
  training pipeline pads them). B is ``batch_size`` when ``static_batch`` is set, else free; T is
  ``num_frames`` when given, else free.

  The time axis is zero-padded to a multiple of ``pad_to`` inside the graph, as Speech2TextDataLayer pads
  its batches: the stride-2 first convolution (SAME padding) shifts its output frames by one when the
  input length changes parity, so the valid logits match training and run.py only with the same padding.
  """

  @staticmethod
  def get_required_params():
    """Adds ``num_audio_features`` and ``vocab_file``."""
    return dict(DataLayer.get_required_params(), **{
        "num_audio_features": Param(Range(int, low=1), doc="features F per frame"),
        "vocab_file": Param(str, doc="the characters, one a line, as in training"),
    })

  @staticmethod
  def get_optional_params():
    """Adds ``pad_to``, ``num_frames``, ``static_batch`` and ``random_seed``."""
    return dict(DataLayer.get_optional_params(), **{
        "pad_to": Param(Range(int, low=0), 0, "frames: the time axis is padded to a multiple of it inside the "
                                              "graph; 0: no padding"),
        "num_frames": Param(Range(int, low=1), None, "frames T of the features placeholder; None: any length"),
        "static_batch": Param(bool, False, "the batch size B of the placeholders is batch_size; False: any"),
        "random_seed": Param(Range(int, low=0), None, "accepted because every model passes its seed; placeholders "
                                                      "draw nothing"),
    })

  def __init__(self, params, model, num_workers=None, worker_id=None):
    super().__init__(params, model, num_workers, worker_id)
    p = self._params
    if p["static_batch"] and p["batch_size"] is None:
      raise ValueError("PlaceholderSpeechDataLayer: static_batch needs batch_size >= 1, got {}".format(
          p["batch_size"]))
    p.update(vocab_params(p["vocab_file"]))

  def build_graph(self):
    """Creates the features ``[B, T, F]`` and lengths ``[B]`` placeholders, pads the time axis to a multiple of
    ``pad_to`` and sets ``input_tensors``."""
    p = self._params
    batch = p["batch_size"] if p["static_batch"] else None
    x = tf.placeholder(p["dtype"], [batch, p["num_frames"], p["num_audio_features"]], name=FEATURES)
    x_len = tf.placeholder(tf.int32, [batch], name=FEATURES_LENGTH)
    pad_to = p["pad_to"]
    if pad_to > 0 and p["num_frames"] is not None:
      # A constant amount keeps the time axis static for converters that need fixed shapes.
      num_pad = -p["num_frames"] % pad_to
      if num_pad:
        x = tf.pad(x, [[0, 0], [0, num_pad], [0, 0]])
    elif pad_to > 0:
      x = tf.pad(x, [[0, 0], [0, (pad_to - tf.shape(x)[1] % pad_to) % pad_to], [0, 0]])
    self._input_tensors = {"source_tensors": [x, x_len]}


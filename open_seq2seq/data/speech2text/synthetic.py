"""Random fixed-shape speech batches: times a model (benchmarks, smoke tests) without audio or a corpus."""
import numpy as np
import tensorflow.compat.v1 as tf

from open_seq2seq.data.data_layer import DataLayer
from open_seq2seq.data.vocab import vocab_params
from open_seq2seq.utils.params import Param, Range


class SyntheticSpeech2TextDataLayer(DataLayer):
  """Serves ``num_batches`` distinct batches of standard-normal features ``[batch_size, num_frames, F]`` (every
  utterance ``num_frames`` long) with random transcripts of ``label_length`` characters, round-robin and
  forever. Shapes are static, so the step it feeds is the model's cost at exactly that size.
  """

  @staticmethod
  def get_required_params():
    """Adds ``num_audio_features`` and ``vocab_file``."""
    return dict(DataLayer.get_required_params(), **{
        "num_audio_features": Param(Range(int, low=1), doc="features F per frame"),
        "vocab_file": Param(str, doc="the characters, one a line; labels are drawn among them"),
    })

  @staticmethod
  def get_optional_params():
    """Adds the sizes of the random batches and their seed."""
    return dict(DataLayer.get_optional_params(), **{
        "batch_size": Param(Range(int, low=1), 8, "utterances per batch (the model sets it from "
                                                  "batch_size_per_gpu)"),
        "num_frames": Param(Range(int, low=1), 1600, "frames T of every utterance"),
        "label_length": Param(Range(int, low=1), 100, "characters of every transcript"),
        "num_batches": Param(Range(int, low=1), 2, "distinct batches served in turn"),
        "random_seed": Param(Range(int, low=0), 0, "seed of the features and labels"),
    })

  def __init__(self, params, model, num_workers=None, worker_id=None):
    super().__init__(params, model, num_workers, worker_id)
    p = self._params
    p.update(vocab_params(p["vocab_file"]))

  def build_graph(self):
    """Draws ``num_batches`` random batches (features ``[B, T, F]``, labels ``[B, L]``) served in turn forever."""
    p = self._params
    rng = np.random.default_rng(p["random_seed"])
    count, batch = p["num_batches"], p["batch_size"]
    features = rng.standard_normal((count, batch, p["num_frames"], p["num_audio_features"])).astype(np.float32)
    labels = rng.integers(0, len(p["char2idx"]), (count, batch, p["label_length"])).astype(np.int32)
    dataset = tf.data.Dataset.from_tensor_slices((features, labels)).repeat()
    self._iterator = tf.data.make_initializable_iterator(dataset)
    x, y = self._iterator.get_next()
    x.set_shape([batch, p["num_frames"], p["num_audio_features"]])
    y.set_shape([batch, p["label_length"]])
    self._input_tensors = {
        "source_tensors": [tf.cast(x, p["dtype"]), tf.fill([batch], p["num_frames"])],
        "target_tensors": [y, tf.fill([batch], p["label_length"])],
    }

  def get_size_in_samples(self):
    """``num_batches * batch_size``."""
    return self._params["num_batches"] * self._params["batch_size"]

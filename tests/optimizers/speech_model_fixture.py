"""A small Speech2Text (Jasper-style) model on fixed in-memory batches, for optimizer tests that need the
real graph (mixed precision, variable names) without audio."""
import copy
import os

import numpy as np
import tensorflow.compat.v1 as tf

from open_seq2seq.data.speech2text.synthetic import SyntheticSpeech2TextDataLayer
from open_seq2seq.decoders import FullyConnectedCTCDecoder
from open_seq2seq.encoders import TDNNEncoder
from open_seq2seq.losses import CTCLoss
from open_seq2seq.models import Speech2Text
from open_seq2seq.optimizers.lr_policies import fixed_lr
from open_seq2seq.optimizers.novograd import NovoGrad
from open_seq2seq.parts.initializers import xavier_initializer

NUM_FEATURES = 16
VOCAB_FILE = os.path.join(os.path.dirname(__file__), "..", "..", "open_seq2seq", "test_utils", "toy_speech_data",
                          "vocab.txt")
VOCAB_SIZE = 28


def fixed_batch(batch_size=4, frames=48, label_length=6, seed=0):
  rng = np.random.default_rng(seed)
  features = rng.standard_normal((batch_size, frames, NUM_FEATURES)).astype(np.float32)
  lengths = np.full([batch_size], frames, np.int32)
  lengths[-1] = frames - 8
  labels = rng.integers(0, VOCAB_SIZE, (batch_size, label_length)).astype(np.int32)
  return features, lengths, labels, np.full([batch_size], label_length, np.int32)


class FixedBatchDataLayer(SyntheticSpeech2TextDataLayer):
  """Serves the same batch (``params['batch']``: features, lengths, labels, label lengths) every step in train
  mode and once in eval/infer mode; ``features_scale_ph`` multiplies the features so a test can inject
  non-finite values."""

  @staticmethod
  def get_optional_params():
    return dict(SyntheticSpeech2TextDataLayer.get_optional_params(), batch=tuple)

  def __init__(self, params, model, num_workers=None, worker_id=None):
    params = dict(params, num_audio_features=NUM_FEATURES, vocab_file=VOCAB_FILE)
    super().__init__(params, model, num_workers, worker_id)
    self.features_scale_ph = None

  def build_graph(self):
    dataset = tf.data.Dataset.from_tensors(tuple(self.params["batch"]))
    if self.params["mode"] == "train":
      dataset = dataset.repeat()
    self._iterator = tf.data.make_initializable_iterator(dataset)
    features, lengths, labels, label_lengths = self._iterator.get_next()
    self.features_scale_ph = tf.placeholder_with_default(1.0, [], name="features_scale")
    x = tf.cast(features * self.features_scale_ph, self.params.get("dtype") or tf.float32)
    self._input_tensors = {"source_tensors": [x, lengths], "target_tensors": [labels, label_lengths]}

  def get_size_in_samples(self):
    return len(self.params["batch"][0])


BASE_PARAMS = {
    "use_horovod": False,
    "num_gpus": 1,
    "batch_size_per_gpu": 4,
    "max_steps": 10,
    "random_seed": 0,
    "logdir": "",
    "print_loss_steps": None,
    "optimizer": NovoGrad,
    "optimizer_params": {"beta1": 0.95, "beta2": 0.98, "epsilon": 1e-8, "weight_decay": 0.001},
    "lr_policy": fixed_lr,
    "lr_policy_params": {"learning_rate": 0.01},
    "summaries": [],
    "data_layer": FixedBatchDataLayer,
    "data_layer_params": {},
    "encoder": TDNNEncoder,
    "encoder_params": {
        "convnet_layers": [
            {"type": "conv1d", "repeat": 1, "kernel_size": [5], "stride": [2], "num_channels": 32,
             "padding": "SAME", "dilation": [1], "dropout_keep_prob": 1.0},
            {"type": "conv1d", "repeat": 2, "kernel_size": [5], "stride": [1], "num_channels": 32,
             "padding": "SAME", "dilation": [1], "dropout_keep_prob": 1.0, "residual": True,
             "residual_dense": True},
            {"type": "conv1d", "repeat": 1, "kernel_size": [1], "stride": [1], "num_channels": 48,
             "padding": "SAME", "dilation": [1], "dropout_keep_prob": 1.0},
        ],
        "dropout_keep_prob": 1.0,
        "initializer": xavier_initializer,
        "initializer_params": {"uniform": False},
        "normalization": "batch_norm",
        "activation_fn": tf.nn.relu,
        "data_format": "channels_last",
        "use_conv_mask": True,
    },
    "decoder": FullyConnectedCTCDecoder,
    "decoder_params": {"initializer": xavier_initializer, "use_language_model": False},
    "loss": CTCLoss,
    "loss_params": {},
}


def build_model(batch=None, mode="train", force_var_reuse=False, **overrides):
  """Compiles a model (a training model by default) in the current default graph; ``overrides`` update the
  model params."""
  params = copy.deepcopy(BASE_PARAMS)
  params["data_layer_params"] = {"batch": batch if batch is not None else fixed_batch()}
  params.update(overrides)
  model = Speech2Text(params, mode=mode)
  model.compile(force_var_reuse=force_var_reuse)
  return model

"""SyntheticSpeech2TextDataLayer: static shapes, valid label ids, distinct batches round-robin, bad params."""
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from open_seq2seq.data.speech2text.synthetic import SyntheticSpeech2TextDataLayer

tf.disable_eager_execution()
VOCAB = os.path.join(os.path.dirname(__file__), "..", "..", "open_seq2seq", "test_utils", "toy_speech_data",
                     "vocab.txt")


def test_batches_have_the_requested_static_shapes_and_cycle():
  with tf.Graph().as_default():
    layer = SyntheticSpeech2TextDataLayer({"mode": "train", "num_audio_features": 64, "vocab_file": VOCAB,
                                           "batch_size": 3, "num_frames": 40, "label_length": 7,
                                           "num_batches": 2}, None)
    layer.build_graph()
    x, x_len = layer.input_tensors["source_tensors"]
    y, y_len = layer.input_tensors["target_tensors"]
    assert x.shape.as_list() == [3, 40, 64] and y.shape.as_list() == [3, 7]
    with tf.Session() as sess:
      sess.run(layer.iterator.initializer)
      batches = [sess.run([x, x_len, y, y_len]) for _ in range(3)]
  assert layer.params["tgt_vocab_size"] == 29
  np.testing.assert_array_equal(batches[0][1], [40, 40, 40])
  np.testing.assert_array_equal(batches[0][3], [7, 7, 7])
  assert all(0 <= batch[2].min() and batch[2].max() < 28 for batch in batches)
  assert not np.array_equal(batches[0][0], batches[1][0])
  np.testing.assert_array_equal(batches[0][0], batches[2][0])
  assert abs(float(np.mean(batches[0][0]))) < 0.1 and abs(float(np.std(batches[0][0])) - 1.0) < 0.1


def test_non_positive_sizes_are_refused():
  with pytest.raises(ValueError, match=r"'data_layer_params/num_frames' is 0 \(int\), expected int >= 1"):
    SyntheticSpeech2TextDataLayer({"mode": "train", "num_audio_features": 64, "vocab_file": VOCAB,
                                   "num_frames": 0}, None)

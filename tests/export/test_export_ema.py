"""generate_pb/ckpt2pb.py on a checkpoint with moving averages of the weights: a config with ema_decay freezes the
averages, giving the logits of run.py's eval mode (training/evaluate.py restored_session) on the same checkpoint;
``--ema_decay=0`` freezes the raw weights."""
import numpy as np
import tensorflow.compat.v1 as tf

from open_seq2seq.export import ckpt2pb
from open_seq2seq.export.frozen_model import FrozenJasper
from open_seq2seq.training.evaluate import restored_session
from tests.optimizers.speech_model_fixture import build_model, fixed_batch

tf.disable_eager_execution()

LOGITS = "ForwardPass/fully_connected_ctc_decoder/logits:0"
DECAY = 0.5
# The fixture's model as a config file for ckpt2pb, with the real feature count and vocabulary.
CONFIG = """
import copy
from open_seq2seq.models import Speech2Text
from tests.optimizers.speech_model_fixture import BASE_PARAMS, NUM_FEATURES, VOCAB_FILE
base_model = Speech2Text
base_params = copy.deepcopy(BASE_PARAMS)
base_params.update(ema_decay={decay}, data_layer_params={{"num_audio_features": NUM_FEATURES,
                                                         "vocab_file": VOCAB_FILE}})
"""


def padded_batch():
  """The fixture's batch with zeros past each utterance's length, as the frozen graph's users feed it."""
  features, lengths, labels, label_lengths = fixed_batch()
  for row, length in enumerate(lengths):
    features[row, length:] = 0.0
  return features, lengths, labels, label_lengths


def eval_logits(checkpoint, batch, **overrides):
  """Logits of each utterance's valid frames from the eval-mode model restored as run.py restores it."""
  with tf.Graph().as_default() as graph:
    model = build_model(batch=batch, mode="eval", **overrides)
    lengths = model.decoder_output["src_length"]
    with restored_session(model, checkpoint) as sess:
      sess.run(model.get_data_layer().iterator.initializer)
      logits, lengths = sess.run([graph.get_tensor_by_name(LOGITS), lengths])
  return [row[:length] for row, length in zip(logits, lengths)]


def test_frozen_graph_takes_the_moving_averages_of_an_ema_config(tmp_path, capsys):
  batch = padded_batch()
  with tf.Graph().as_default():
    model = build_model(batch=batch, ema_decay=DECAY, optimizer="SGD", optimizer_params={},
                        lr_policy_params={"learning_rate": 0.1})
    saver = tf.train.Saver()
    with tf.Session() as sess:
      sess.run([tf.global_variables_initializer(), model.get_data_layer().iterator.initializer])
      for _ in range(4):
        sess.run(model.train_op)
      checkpoint = saver.save(sess, str(tmp_path / "model.ckpt"), global_step=4)
  config_file = tmp_path / "ema_config.py"
  config_file.write_text(CONFIG.format(decay=DECAY))
  common = ["--config_file=" + str(config_file), "--checkpoint=" + checkpoint]
  assert ckpt2pb.main(common + ["--output_file=" + str(tmp_path / "ema.pb")]) == 0
  assert "Restoring the exponential moving averages of 17 weights" in capsys.readouterr().out
  assert ckpt2pb.main(common + ["--output_file=" + str(tmp_path / "raw.pb"), "--ema_decay=0.0"]) == 0
  assert "moving averages" not in capsys.readouterr().out

  features, lengths = batch[0], batch[1]
  utterances = [features[row, :length] for row, length in enumerate(lengths)]
  frozen = {}
  for name in ("ema", "raw"):
    graph = FrozenJasper(str(tmp_path / (name + ".pb")))
    frozen[name] = graph.run(utterances)
    graph.close()
  averaged, raw = eval_logits(checkpoint, batch, ema_decay=DECAY), eval_logits(checkpoint, batch)
  for row, expected in enumerate(averaged):
    assert frozen["ema"][row].shape == expected.shape
    np.testing.assert_allclose(frozen["ema"][row], expected, rtol=0, atol=1e-5)
    np.testing.assert_allclose(frozen["raw"][row], raw[row], rtol=0, atol=1e-5)
  assert max(np.max(np.abs(a - r)) for a, r in zip(averaged, raw)) > 1e-3

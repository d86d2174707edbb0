"""Stand-alone evaluation and inference from a checkpoint (open_seq2seq/training/evaluate.py) on a one-weight fake
model: the weight comes from the checkpoint written by the test (its moving average with ema_decay), the mean
loss and WER follow from it by hand, a checkpoint of another model is refused, and only rank 0 writes the
predictions."""
import os

import pytest
import tensorflow.compat.v1 as tf

from open_seq2seq.training.evaluate import evaluate, infer
from open_seq2seq.utils.checkpoint_fit import EMA_SUFFIX, CheckpointMismatchError
from tests.training.fake_model import WEIGHT_NAME, FakeDataLayer, FakeModel, FakeWorkers

tf.disable_eager_execution()

VALUES = [1.0, 2.0, 3.0]  # the utterances, in batches of 2: mean 2


@pytest.fixture(autouse=True)
def fresh_graph():
  with tf.Graph().as_default():
    yield


def save_checkpoint(directory, values, step=10):
  """A checkpoint of the variables ``values`` (name -> float) and global_step, written in a graph of its own."""
  prefix = os.path.join(str(directory), "model.ckpt")
  with tf.Graph().as_default():
    for name, value in values.items():
      tf.Variable(value, name=name)
    tf.train.get_or_create_global_step()
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      return tf.train.Saver().save(sess, prefix, global_step=step)


def test_evaluation_uses_the_checkpoints_weight(tmp_path, capsys):
  checkpoint = save_checkpoint(tmp_path, {WEIGHT_NAME: 2.5})
  model = FakeModel(FakeDataLayer(VALUES, batch_size=2), wer=sum)  # the fake's weight starts at 1
  metrics = evaluate(model, checkpoint)
  # outputs 2.5 * values; the loss is their mean over the 3 utterances.
  assert model.finalized == [[[2.5, 5.0], [7.5]]]
  assert metrics == {"Eval WER": 15.0, "eval_loss": pytest.approx(5.0)}
  out = capsys.readouterr().out
  assert "Validation loss: 5.0000" in out and "Finished evaluation" in out


@pytest.mark.parametrize("ema_decay, weight", [(0.9, 4.0), (0.0, 1.5)], ids=["ema", "raw"])
def test_evaluation_reads_the_moving_average_with_ema_decay(tmp_path, ema_decay, weight):
  checkpoint = save_checkpoint(tmp_path, {WEIGHT_NAME: 1.5, WEIGHT_NAME + EMA_SUFFIX: 4.0})
  metrics = evaluate(FakeModel(FakeDataLayer(VALUES, batch_size=2), ema_decay=ema_decay), checkpoint)
  assert metrics["eval_loss"] == pytest.approx(2.0 * weight)


def test_a_checkpoint_of_another_model_is_refused(tmp_path):
  checkpoint = save_checkpoint(tmp_path, {"ForwardPass/other": 2.5})
  model = FakeModel(FakeDataLayer(VALUES, batch_size=2))
  with pytest.raises(CheckpointMismatchError, match=WEIGHT_NAME):
    evaluate(model, checkpoint)
  assert model.evaluated == []


@pytest.mark.parametrize("hvd, writes", [(None, True), (FakeWorkers(0, can_gather=False), True),
                                         (FakeWorkers(1, can_gather=False), False)],
                         ids=["one process", "rank 0", "rank 1"])
def test_inference_writes_the_checkpoints_predictions_on_rank_0_only(tmp_path, hvd, writes):
  checkpoint = save_checkpoint(tmp_path, {WEIGHT_NAME: 2.5})
  model = FakeModel(FakeDataLayer(VALUES, batch_size=2), mode="infer", hvd=hvd)
  output_file = str(tmp_path / "predictions.csv")
  infer(model, checkpoint, output_file)
  assert model.inferred == [[1.0, 2.0], [3.0]]
  assert model.written == ([([[2.5, 5.0], [7.5]], output_file)] if writes else [])

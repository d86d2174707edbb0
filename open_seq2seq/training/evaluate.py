"""Standalone evaluation and inference from a checkpoint."""
import tensorflow.compat.v1 as tf

from open_seq2seq.distributed.session_config import session_config
from open_seq2seq.training.iterate import iterate_data
from open_seq2seq.utils.checkpoint import build_restore_fn
from open_seq2seq.utils.logging import deco_print


def restored_session(model, checkpoint):
  """A session of ``model``'s graph with ``checkpoint`` restored: the moving averages of the weights when the
  model's ``ema_decay`` is set and the checkpoint keeps them, else the weights. Raises CheckpointMismatchError
  (a ValueError naming each variable and both shapes) when the checkpoint does not hold the model's weights,
  rather than evaluating a model with random layers."""
  restore = build_restore_fn(checkpoint, use_ema=bool(model.ema_decay))
  sess = tf.Session(config=session_config(model.params, model.mode, model.hvd))
  sess.run([tf.global_variables_initializer(), tf.local_variables_initializer()])
  restore(sess)
  return sess


def evaluate(model, checkpoint):
  """Corpus WER and mean loss over every utterance of the eval data layer."""
  with restored_session(model, checkpoint) as sess:
    results, loss = iterate_data(model, sess, compute_loss=True, verbose=True)
  deco_print("Validation loss: {:.4f} ".format(loss), offset=4)
  metrics = model.finalize_evaluation(results)
  metrics["eval_loss"] = loss
  deco_print("Finished evaluation")
  return metrics


def infer(model, checkpoint, output_file):
  """Writes ``wav_filename,predicted_transcript`` for every utterance of the infer data layer."""
  with restored_session(model, checkpoint) as sess:
    results, _ = iterate_data(model, sess, compute_loss=False, verbose=True)
  if model.hvd is None or model.hvd.rank() == 0:
    model.finalize_inference(results, output_file)

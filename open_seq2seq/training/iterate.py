"""One pass over an eval/infer data layer: every utterance exactly once, in manifest order."""
import math
import time

import tensorflow.compat.v1 as tf

from open_seq2seq.losses.ctc_loss import UNALIGNABLE_UTTERANCES
from open_seq2seq.training.stop_signals import RunInterrupted, evaluation_stop_signal
from open_seq2seq.utils.logging import deco_print


def iterate_data(model, sess, compute_loss, verbose):
  """Runs the model over its whole data layer; returns ``(results per batch, mean loss or None)``.

  Results are ``model.evaluate(...)`` in eval mode and ``model.infer(...)`` in infer mode. Under Horovod each
  worker runs its shard (possibly empty: then no batch) and every worker gets the results of all shards (rank
  order) and the global loss. Utterances whose label cannot be aligned to their frames (loss 0, see
  ``CTCLoss``) are counted over all workers and reported in one line. Raises ValueError naming the file and row
  when an utterance cannot be read, or when no utterance at all could be read; RunInterrupted when a stop signal
  arrives between batches.
  """
  data_layer = model.get_data_layer()
  sess.run(data_layer.iterator.initializer)
  fetches = {"inputs": data_layer.input_tensors, "outputs": model.output,
             "objects": model.num_objects_per_step}
  if compute_loss:
    fetches["loss"] = model.loss
    # A loss that does not count unalignable utterances has none; no op is added (the training graph is
    # finalized when the evaluation hook runs this).
    unalignable_count = tf.get_collection(UNALIGNABLE_UTTERANCES + "/" + model.mode)
    if unalignable_count:
      fetches["unalignable"] = unalignable_count[0]
  num_batches = math.ceil(data_layer.get_size_in_samples() / data_layer.params["batch_size"])
  bench_start = model.params["bench_start"]
  results, total_loss, total_samples, unalignable = [], 0.0, 0, 0
  timed_seconds, timed_objects, step = 0.0, 0, 0
  while True:
    if evaluation_stop_signal() is not None:
      raise RunInterrupted(evaluation_stop_signal(), "Evaluation" if model.mode == "eval" else "Inference")
    start = time.time()
    try:
      values = sess.run(fetches)
    except tf.errors.OutOfRangeError:
      break
    except tf.errors.OpError as error:
      if data_layer.input_error() is None:
        raise
      raise data_layer.input_error() from error
    if step >= bench_start:
      timed_seconds += time.time() - start
      timed_objects += values["objects"]
    batch_size = len(values["inputs"]["source_tensors"][1])
    if compute_loss:
      total_loss += values["loss"] * batch_size
      unalignable += int(values.get("unalignable", 0))
    total_samples += batch_size
    if model.mode == "infer":
      results.append(model.infer(values["inputs"], values["outputs"]))
    else:
      results.append(model.evaluate(values["inputs"], values["outputs"]))
    step += 1
    if verbose and (step == 1 or step == num_batches or (num_batches > 10 and step % (num_batches // 10) == 0)):
      deco_print("Processed {}/{} batches".format(step, num_batches))
  if verbose and step > bench_start and timed_seconds > 0:
    deco_print("Avg time per step: {:.3f}s".format(timed_seconds / (step - bench_start)))
    deco_print("Avg objects per second: {:.3f}".format(timed_objects / timed_seconds))
  data_layer.report_skipped()
  workers = model.hvd
  if workers is not None and workers.can_gather:
    gathered = workers.gather((results, total_loss, total_samples, unalignable))
    results = [batch for worker_results, _, _, _ in gathered for batch in worker_results]
    total_loss = sum(worker[1] for worker in gathered)
    total_samples = sum(worker[2] for worker in gathered)
    unalignable = sum(worker[3] for worker in gathered)
  if not total_samples:
    raise ValueError("No utterance of {} could be read (every one was dropped while reading; see the skipped list "
                     "above)".format(data_layer.params.get("dataset_files")))
  if unalignable:
    deco_print("Warning: {} of {} utterances cannot be aligned to the model's output frames (characters plus "
               "adjacent repeats exceed the frames): their loss counts as 0".format(unalignable, total_samples))
  mean_loss = total_loss / total_samples if compute_loss else None
  return results, mean_loss

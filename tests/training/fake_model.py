"""Fakes of what surrounds the training loop's units (tests/training): a data layer serving one float per
utterance from memory and a model with a single weight, so that every value a test expects can be computed
by hand. Only the model and its data are fake; the hooks, iterate_data, evaluate and train run unchanged."""
import math

import numpy as np
import tensorflow.compat.v1 as tf

from open_seq2seq.losses.ctc_loss import UNALIGNABLE_UTTERANCES
from open_seq2seq.models.model import Model
from open_seq2seq.utils.params import with_defaults

WEIGHT_NAME = "ForwardPass/w"  # under ForwardPass/ so the checkpoint code counts it as a model weight


class FakeDataLayer:
  """The data layer interface the loop reads. Utterance i is ``values[i]`` (features, shape [batch]) with length
  ``lengths[i]`` (default 1), served in order in batches of ``batch_size`` (the last one partial), endlessly with
  ``repeat``. Reading an utterance whose value is ``fail_on`` fails with an OpError, as a bad audio file does; the
  layer then answers ``input_error`` (the ValueError naming file and row that the real layers build)."""

  def __init__(self, values, batch_size, lengths=None, repeat=False, fail_on=None, input_error=None):
    self.params = {"batch_size": batch_size, "dataset_files": ["fake_manifest.csv"]}
    self.size = len(values)
    self.skipped_reports = 0
    self._input_error = input_error
    values = np.asarray(values, np.float32).reshape([-1])
    lengths = np.ones(len(values), np.int32) if lengths is None else np.asarray(lengths, np.int32)
    dataset = tf.data.Dataset.from_tensor_slices((values, lengths))
    if fail_on is not None:
      dataset = dataset.map(lambda value, length: (_failing_on(value, fail_on), length))
    if repeat:
      dataset = dataset.repeat()
    self.iterator = tf.data.make_initializable_iterator(dataset.batch(batch_size))
    self.input_tensors = {"source_tensors": list(self.iterator.get_next())}

  def get_size_in_samples(self):
    return self.size

  def report_skipped(self):
    self.skipped_reports += 1

  def input_error(self):
    return self._input_error


def _failing_on(value, bad):
  check = tf.debugging.assert_none_equal(value, tf.constant(bad, tf.float32), message="unreadable utterance")
  with tf.control_dependencies([check]):
    return tf.identity(value)


def model_weight(initial=1.0):
  """The one model weight, created once per graph (train and eval models share it, as in train_eval)."""
  with tf.variable_scope("ForwardPass", reuse=tf.AUTO_REUSE):
    return tf.get_variable("w", [], tf.float32, tf.constant_initializer(initial))


class FakeModel:
  """The model interface: output = w * features, loss = the batch's mean output, objects = the sum of lengths.
  ``evaluate``/``infer`` return the batch's outputs and record their inputs; ``finalize_evaluation`` returns
  ``{"Eval WER": wer(all outputs)}``; ``maybe_print_logs`` records what it is shown. Utterances whose value
  exceeds ``unalignable_above`` count as unalignable in the UNALIGNABLE_UTTERANCES collection of the mode, which
  the CTC loss always fills (None: a model whose loss leaves it empty)."""

  def __init__(self, data_layer, mode="eval", params=None, hvd=None, ema_decay=0.0, wer=None,
               unalignable_above=math.inf, last_step=None):
    # As a real model's: the declared defaults filled in (Model.__init__ does the same).
    self.params = with_defaults(dict({"batch_size_per_gpu": data_layer.params["batch_size"], "iter_size": 1,
                                      "dtype": tf.float32}, **(params or {})), Model.get_optional_params())
    self.mode = mode
    self.hvd = hvd
    self.ema_decay = ema_decay
    self.last_step = last_step
    self._data_layer = data_layer
    self._wer = wer or (lambda outputs: 0.0)
    self.weight = model_weight()
    features, lengths = data_layer.input_tensors["source_tensors"]
    self.output = features * self.weight
    self.loss = tf.reduce_mean(self.output)
    self.num_objects_per_step = tf.reduce_sum(lengths)
    if unalignable_above is not None:
      count = tf.reduce_sum(tf.cast(features > unalignable_above, tf.int32))
      tf.add_to_collection(UNALIGNABLE_UTTERANCES + "/" + mode, count)
    self.evaluated, self.inferred, self.printed, self.finalized, self.written = [], [], [], [], []

  def get_data_layer(self):
    return self._data_layer

  def evaluate(self, input_values, output_values):
    self.evaluated.append(input_values["source_tensors"][0].tolist())
    return output_values.tolist()

  def infer(self, input_values, output_values):
    self.inferred.append(input_values["source_tensors"][0].tolist())
    return output_values.tolist()

  def maybe_print_logs(self, input_values, output_values):
    self.printed.append((input_values["source_tensors"][0].tolist(), output_values.tolist()))

  def finalize_evaluation(self, results_per_batch):
    self.finalized.append(results_per_batch)
    return {"Eval WER": self._wer([value for batch in results_per_batch for value in batch])}

  def finalize_inference(self, results_per_batch, output_file):
    self.written.append((results_per_batch, output_file))


# Every key train() reads, set so that nothing runs unless a test asks for it.
TRAIN_PARAMS = {"logdir": "", "max_consecutive_nonfinite_steps": 3, "num_checkpoints": 5, "save_checkpoint_steps": None,
                "print_loss_steps": None, "print_samples_steps": None, "iter_size": 1, "bench_start": 0,
                "save_summaries_steps": None, "print_bench_info_steps": None, "load_model": None}


class FakeTrainModel(FakeModel):
  """A training model on ``values`` (endless unless ``repeat=False``): each update run adds ``LEARNING_RATE`` to
  w and 1 to global_step; every run, accumulation-only ones (``skip_update_ph`` fed True) too, adds 1 to
  ``Loss_Optimization/batches_seen``. The updates wait for the global step's read, so that a hook fetching the
  global step sees its value before the run, as in the real graph."""
  LEARNING_RATE = 0.5

  def __init__(self, values, batch_size, params, repeat=True, **data_options):
    super().__init__(FakeDataLayer(values, batch_size, repeat=repeat, **data_options), mode="train",
                     params=dict(TRAIN_PARAMS, **params), last_step=params["max_steps"])
    self.learning_rate = tf.constant(self.LEARNING_RATE)
    self.skip_update_ph = tf.placeholder_with_default(False, [], name="skip_update")
    global_step = tf.train.get_or_create_global_step()
    with tf.variable_scope("Loss_Optimization"):
      self.batches_seen = tf.get_variable("batches_seen", [], tf.int64, tf.zeros_initializer(), trainable=False)
    update = 1 - tf.cast(self.skip_update_ph, tf.int64)
    with tf.control_dependencies([tf.get_default_graph().as_graph_element(global_step), self.loss]):
      self.train_op = tf.group(self.batches_seen.assign_add(1), global_step.assign_add(update),
                               self.weight.assign_add(self.learning_rate * tf.cast(update, tf.float32)))


class FakeWorkers:
  """The workers interface (distributed/workers.py) for rank ``rank`` of a run: ``gather`` returns the other
  ranks' values as given in ``others`` ({rank: value}), with this rank's own value at its place."""

  def __init__(self, rank, others=None, can_gather=True):
    self._rank = rank
    self._others = others or {}
    self.can_gather = can_gather
    self.gathered = []

  def size(self):
    return len(self._others) + 1

  def rank(self):
    return self._rank

  def local_rank(self):
    return self._rank

  def broadcast_hook(self):
    return tf.train.SessionRunHook()  # rank 0's variables would arrive here; a no-op keeps the rank's own

  def gather(self, value):
    self.gathered.append(value)
    values = dict(self._others)
    values[self._rank] = value
    return [values[rank] for rank in range(len(values))]

"""Base class of data layers."""
import copy

import tensorflow.compat.v1 as tf

from open_seq2seq.utils.params import Configured, Param, Range, check_params, with_defaults


class DataLayer(Configured):
  """A data layer builds the input tensors of one model replica (``input_tensors`` dict)."""

  @staticmethod
  def get_required_params():
    """``mode``, which every data layer needs."""
    return {"mode": Param(["train", "eval", "infer"], doc="set by the model: the mode it runs in")}

  @staticmethod
  def get_optional_params():
    """The options common to every data layer (batch size, shuffling, dtype, eval/infer sharding)."""
    return {
        "batch_size": Param(Range(int, low=1), None, "utterances per batch; set by the model (batch_size_per_gpu, "
                                                     "or eval_batch_size_per_gpu outside training)"),
        "shuffle": Param(bool, None, "shuffle the utterances on every pass (train mode only); None: True in train "
                                     "mode"),
        "dtype": Param(None, tf.float32, "type of the features the layer outputs; set by the model (its compute "
                                         "dtype)"),
        "num_workers": Param(Range(int, low=1), None, "workers whose shards split eval/infer rows; None: the "
                                                      "model's worker count (1 unsharded)"),
        "worker_id": Param(Range(int, low=0), None, "this worker's shard; None: the model's rank (0 unsharded)"),
    }

  def __init__(self, params, model, num_workers=None, worker_id=None):
    check_params(params, self.get_required_params(), self.get_optional_params(), type(self).__name__,
                 prefix="data_layer_params/")
    self._params = with_defaults(copy.deepcopy(params), self.get_optional_params())
    self._model = model
    self._mode = self._params["mode"]
    self._iterator = None
    self._input_tensors = None
    p = self._params
    if p["num_workers"] is None:
      p["num_workers"] = num_workers or 1
    if p["worker_id"] is None:
      p["worker_id"] = worker_id or 0
    if p["shuffle"] is None:
      p["shuffle"] = p["mode"] == "train"
    if self._params["mode"] != "train" and self._params["shuffle"]:
      raise ValueError("{}: shuffle=True is only allowed in train mode".format(type(self).__name__))

  def build_graph(self):
    """Builds the input pipeline (sets ``iterator`` and ``input_tensors``); subclasses implement it."""
    raise NotImplementedError

  @property
  def iterator(self):
    """The tf.data iterator to initialise before each pass, set by build_graph; None before it, and for layers
    without one (placeholders)."""
    return self._iterator

  @property
  def input_tensors(self):
    """Dict of the batch tensors (``source_tensors``, ``target_tensors``, ...) set by build_graph; None
    before it."""
    return self._input_tensors

  def get_size_in_samples(self):
    """Number of utterances in one pass over the data, or None when unknown (this base class)."""
    return None

  def report_skipped(self):
    """Prints the utterances a skip-bad-data mode left out (none by default)."""

  def input_error(self):
    """The ValueError (naming the file and row) behind a failed read of the input stream, or None when the
    failure, if any, did not come from the data."""
    return None

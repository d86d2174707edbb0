"""Base class of data layers."""
import copy

from open_seq2seq.utils.params import Range, check_params


class DataLayer:
  """A data layer builds the input tensors of one model replica (``input_tensors`` dict)."""

  @staticmethod
  def get_required_params():
    return {"mode": ["train", "eval", "infer"]}

  @staticmethod
  def get_optional_params():
    return {
        "batch_size": Range(int, low=1),
        "shuffle": bool,
        "dtype": None,
        "num_workers": Range(int, low=1),
        "worker_id": Range(int, low=0),
    }

  def __init__(self, params, model, num_workers=None, worker_id=None):
    check_params(params, self.get_required_params(), self.get_optional_params(), type(self).__name__,
                 prefix="data_layer_params/")
    self._params = copy.deepcopy(params)
    self._model = model
    self._params.setdefault("num_workers", num_workers or 1)
    self._params.setdefault("worker_id", worker_id or 0)
    self._params.setdefault("shuffle", self._params["mode"] == "train")
    if self._params["mode"] != "train" and self._params["shuffle"]:
      raise ValueError("{}: shuffle=True is only allowed in train mode".format(type(self).__name__))

  @property
  def params(self):
    return self._params

  def build_graph(self):
    raise NotImplementedError

  @property
  def iterator(self):
    raise NotImplementedError

  @property
  def input_tensors(self):
    raise NotImplementedError

  def get_size_in_samples(self):
    return None

  def report_skipped(self):
    """Prints the utterances a skip-bad-data mode left out (none by default)."""

  def input_error(self):
    """The ValueError (naming the file and row) behind a failed read of the input stream, or None when the
    failure, if any, did not come from the data."""
    return None

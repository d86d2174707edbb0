"""Base class of losses."""
import copy

from open_seq2seq.utils.params import check_params, with_defaults


class Loss:
  """A loss maps ``{"decoder_output", "target_tensors"}`` to a scalar."""

  @staticmethod
  def get_required_params():
    """None in this base class."""
    return {}

  @staticmethod
  def get_optional_params():
    """None in this base class."""
    return {}

  def __init__(self, params, model, name="loss"):
    check_params(params, self.get_required_params(), self.get_optional_params(), type(self).__name__,
                 prefix="loss_params/")
    self._params = with_defaults(copy.deepcopy(params), self.get_optional_params())
    self._model = model
    self._name = name

  def compute_loss(self, input_dict):
    """The scalar loss of ``input_dict``; subclasses implement it."""
    raise NotImplementedError

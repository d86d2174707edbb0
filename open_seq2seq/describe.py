"""``describe_part``: every parameter of a part a config names, read from the part's declarations.

A part is named as a config names it: a class (``Speech2Text``, ``Speech2TextDataLayer``, ``TDNNEncoder``,
``FullyConnectedCTCDecoder``, ``CTCLoss``, ``NovoGrad``), an optimizer name (``Momentum``), an lr policy
(``poly_decay``), a loss-scaling algorithm (``Backoff``), or ``LARC`` and ``augmentation`` for the dicts of
``larc_params`` and ``data_layer_params/augmentation``. It sits at the top of the package because it knows every
part, and no part imports it.
"""
from open_seq2seq.data import DataLayer, Speech2TextDataLayer
from open_seq2seq.data.speech2text.augmentation import KEYS as AUGMENTATION_KEYS
from open_seq2seq.data.speech2text.placeholder import PlaceholderSpeechDataLayer
from open_seq2seq.data.speech2text.synthetic import SyntheticSpeech2TextDataLayer
from open_seq2seq.decoders import FullyConnectedCTCDecoder
from open_seq2seq.encoders import TDNNEncoder
from open_seq2seq.encoders.tdnn_encoder import LAYER_OPTIONAL, LAYER_REQUIRED
from open_seq2seq.losses import CTCLoss, Loss
from open_seq2seq.models import Model, Speech2Text
from open_seq2seq.optimizers import (NovoGrad, cosine_decay, exp_decay, fixed_lr, inv_poly_decay, piecewise_constant,
                                     poly_decay, transformer_policy)
from open_seq2seq.optimizers.automatic_loss_scaler import BackoffScaler, LogMaxScaler
from open_seq2seq.optimizers.lr_policies import policy_declarations
from open_seq2seq.optimizers.optimize_loss import LARC_PARAMS, OPTIMIZER_CLS_NAMES, optimizer_declarations
from open_seq2seq.utils.params import describe_params, param_line

CLASS_PARTS = (Speech2Text, Speech2TextDataLayer, PlaceholderSpeechDataLayer, SyntheticSpeech2TextDataLayer,
               TDNNEncoder, FullyConnectedCTCDecoder, CTCLoss)
LR_POLICIES = (poly_decay, cosine_decay, exp_decay, piecewise_constant, inv_poly_decay, transformer_policy, fixed_lr)
# The loss_scaling names of the configs (case-insensitive there).
LOSS_SCALERS = {"Backoff": BackoffScaler, "LogMax": LogMaxScaler}


def _config_key(part_class):
  """Where a part class's parameters sit in a config."""
  if issubclass(part_class, Model):
    return "base_params"
  if issubclass(part_class, DataLayer):
    return "data_layer_params"
  if issubclass(part_class, Loss):
    return "loss_params"
  return part_class.CONFIG_KEY


def _class_sections(part_class):
  title = "{} ({})".format(part_class.__name__, _config_key(part_class))
  return [(title, part_class.get_required_params(), part_class.get_optional_params())]


def part_sections():
  """Every registered part's name -> its sections ``(title, required declarations, optional declarations)``."""
  sections = {part_class.__name__: _class_sections(part_class) for part_class in CLASS_PARTS}
  sections["TDNNEncoder"].append(("each entry of encoder_params/convnet_layers", LAYER_REQUIRED, LAYER_OPTIONAL))
  for name, optimizer in dict(OPTIMIZER_CLS_NAMES, NovoGrad=NovoGrad).items():
    sections[name] = [("{} (optimizer_params)".format(name),) + optimizer_declarations(optimizer)]
  for policy in LR_POLICIES:
    sections[policy.__name__] = [("{} (lr_policy_params)".format(policy.__name__),) + policy_declarations(policy)]
  for name, scaler in LOSS_SCALERS.items():
    sections[name] = [("{} (loss_scaling_params)".format(name), {}, scaler.PARAMS)]
  larc_required = {"larc_eta": LARC_PARAMS["larc_eta"]}
  larc_optional = {name: declaration for name, declaration in LARC_PARAMS.items() if name not in larc_required}
  sections["LARC"] = [("LARC (larc_params)", larc_required, larc_optional)]
  return sections


def _augmentation_lines():
  # The augmentation keys declare their allowed values in words (augmentation/params.py), not as specs.
  return ["augmentation (data_layer_params/augmentation)"] + [
      "  " + param_line(name, key.kind.text, key.default, key.doc) for name, key in sorted(AUGMENTATION_KEYS.items())]


def known_parts():
  """The names ``describe_part`` takes, sorted."""
  return sorted(list(part_sections()) + ["augmentation"])


def describe_part(name_or_class):
  """Every parameter of a part, one line each under a title naming where the parameters sit in a config:
  ``name (required; allowed values): doc`` or ``name (optional; allowed values; default D): doc``.

  Args:
    name_or_class: a part's name as a config writes it (``"TDNNEncoder"``, ``"poly_decay"``, ``"Backoff"``,
      ``"LARC"``, ``"augmentation"``; ``known_parts()`` lists them), or a class or lr policy itself; a class
      outside the registry is described from its own ``get_required_params``/``get_optional_params``.

  Returns:
    The description, lines joined by newlines, without a trailing newline.

  Raises:
    ValueError: an unknown name (or object), naming the known parts.
  """
  name = getattr(name_or_class, "__name__", name_or_class)
  if name == "augmentation":
    return "\n".join(_augmentation_lines())
  sections = part_sections().get(name)
  if sections is None and isinstance(name_or_class, type) and hasattr(name_or_class, "get_optional_params"):
    sections = _class_sections(name_or_class)
  if sections is None:
    raise ValueError("Unknown part {!r}; known parts: {}".format(name_or_class, ", ".join(known_parts())))
  lines = []
  for title, required, optional in sections:
    lines.append(title)
    lines.extend("  " + line for line in describe_params(required, optional))
  return "\n".join(lines)

"""Declared parameters of a part and the single checker that validates a config against them.

Each part class declares ``get_required_params()`` and ``get_optional_params()`` as ``name -> spec``
where spec is a type, a tuple of types, a list of allowed values, a ``Range`` (a number of given types
within bounds), a ``ListOf`` (a list whose items all match a spec), an ``Inert`` (a key of the original's configs
that has no effect here) or ``None`` (anything). The declarations are merged up the class hierarchy by the
classes themselves.
"""
import math

from open_seq2seq.utils.logging import deco_print


class Range:
  """A finite number of ``types`` (a type or tuple of types; ``float`` also admits ints, bools never count as
  numbers) between ``low`` and ``high`` (either may be None), each bound inclusive unless told otherwise.

  ``Range(int, low=1)``: an int >= 1. ``Range(float, low=0, high=1, high_inclusive=False)``: in [0, 1).
  """

  def __init__(self, types, low=None, high=None, low_inclusive=True, high_inclusive=True):
    self.types = types if isinstance(types, tuple) else (types,)
    self.low = low
    self.high = high
    self.low_inclusive = low_inclusive
    self.high_inclusive = high_inclusive

  def contains(self, value):
    """Whether ``value`` is of the types and within the bounds."""
    if not _type_matches(value, self.types):
      return False
    if isinstance(value, float) and not math.isfinite(value):
      return False
    if self.low is not None and (value < self.low if self.low_inclusive else value <= self.low):
      return False
    return self.high is None or (value <= self.high if self.high_inclusive else value < self.high)

  def __repr__(self):
    kind = " or ".join(t.__name__ for t in self.types)
    if self.low is not None and self.high is not None:
      return "{} in {}{}, {}{}".format(kind, "[" if self.low_inclusive else "(", self.low, self.high,
                                       "]" if self.high_inclusive else ")")
    if self.low is not None:
      return "{} {} {}".format(kind, ">=" if self.low_inclusive else ">", self.low)
    if self.high is not None:
      return "{} {} {}".format(kind, "<=" if self.high_inclusive else "<", self.high)
    return "a finite " + kind


class ListOf:
  """A list (or tuple) whose items all match ``item_spec``; ``length``: the exact number of items, if fixed."""

  def __init__(self, item_spec, length=None):
    self.item_spec = item_spec
    self.length = length

  def contains(self, value):
    if not isinstance(value, (list, tuple)) or (self.length is not None and len(value) != self.length):
      return False
    return all(_matches(item, self.item_spec) for item in value)

  def __repr__(self):
    count = "{} item{}".format(self.length, "" if self.length == 1 else "s") if self.length is not None else "items"
    return "a list of {}, each {}".format(count, describe(self.item_spec))


class Inert:
  """A key that the original's configs carry but that has no effect here (``reason`` says why): its value is
  checked against ``spec``, and the first config that sets it prints one note saying so."""

  def __init__(self, spec, reason):
    self.spec = spec
    self.reason = reason

  def contains(self, value):
    return _matches(value, self.spec)

  def __repr__(self):
    return describe(self.spec)


_NOTED_INERT_KEYS = set()


def _note_inert(path, value, reason):
  if path not in _NOTED_INERT_KEYS:
    _NOTED_INERT_KEYS.add(path)
    deco_print("Note: {} = {!r} is accepted for compatibility with OpenSeq2Seq configs and has no effect ({})".format(
        path, value, reason))


def describe(spec):
  """The spec in words, as error messages print it."""
  if spec is None:
    return "a value"
  if isinstance(spec, (Range, ListOf, Inert)):
    return repr(spec)
  if isinstance(spec, list):
    return "one of {}".format(spec)
  if isinstance(spec, tuple):
    return " or ".join(t.__name__ for t in spec)
  return spec.__name__


def _type_matches(value, types):
  if bool not in types and isinstance(value, bool) and (int in types or float in types):
    return False
  if float in types and isinstance(value, int) and not isinstance(value, bool):
    return True
  return isinstance(value, types)


def _matches(value, spec):
  if spec is None:
    return True
  if isinstance(spec, (Range, ListOf, Inert)):
    return spec.contains(value)
  if isinstance(spec, list):
    return value in spec
  return _type_matches(value, spec if isinstance(spec, tuple) else (spec,))


def check_params(config, required_dict, optional_dict, owner="config", prefix=""):
  """Raises ValueError naming ``owner`` and the key for a missing, unknown, ill-typed or out-of-range
  parameter. ``prefix`` is the key's path in the config (e.g. ``"encoder_params/convnet_layers[3]/"``)."""
  if not isinstance(config, dict):
    raise ValueError("{}: {}parameters must be a dict, got {}".format(
        owner, "'{}' ".format(prefix.rstrip("/")) if prefix else "", type(config).__name__))
  for key, spec in required_dict.items():
    if key not in config:
      raise ValueError("{}: missing required parameter '{}{}' (expected {})".format(owner, prefix, key, describe(spec)))
  for key, value in config.items():
    if key in required_dict:
      spec = required_dict[key]
    elif key in optional_dict:
      spec = optional_dict[key]
      if value is None:
        continue
    else:
      known = sorted(list(required_dict) + list(optional_dict))
      raise ValueError("{}: unknown parameter '{}{}'. Known parameters: {}".format(
          owner, prefix, key, ", ".join(known)))
    if not _matches(value, spec):
      raise ValueError("{}: parameter '{}{}' is {!r} ({}), expected {}".format(
          owner, prefix, key, value, type(value).__name__, describe(spec)))
    if isinstance(spec, Inert):
      _note_inert(prefix + key, value, spec.reason)

"""Declared parameters of a part and the single checker that validates a config against them.

Each part class declares ``get_required_params()`` and ``get_optional_params()`` as ``name -> declaration``.
A declaration is a ``Param``: a spec, the default (optional keys only) and a one-line doc, the one place each of
them is written. A spec is a type, a tuple of types, a list of allowed values, a ``Range`` (a number of given
types within bounds), a ``ListOf`` (a list whose items all match a spec) or ``None`` (anything); an ``Inert`` is
the declaration of a key of the original's configs that has no effect here. A bare spec is accepted wherever a
``Param`` is, as in OpenSeq2Seq, but declares neither default nor doc. The declarations are merged up the class
hierarchy by the classes themselves; ``with_defaults`` gives a part its config with the declared defaults filled
in, and ``open_seq2seq.describe`` prints them.
"""
import copy
import inspect
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
    """True if ``value`` is a list or tuple of the right length whose items all match ``item_spec``."""
    if not isinstance(value, (list, tuple)) or (self.length is not None and len(value) != self.length):
      return False
    return all(_matches(item, self.item_spec) for item in value)

  def __repr__(self):
    count = "{} item{}".format(self.length, "" if self.length == 1 else "s") if self.length is not None else "items"
    return "a list of {}, each {}".format(count, describe(self.item_spec))


class Configured:
  """Base of the parts built from a validated params dict (models, components, data layers): the ``params``
  and ``mode`` every caller reads. Subclasses set ``_params`` and ``_mode`` in their constructor."""

  @property
  def params(self):
    """The validated parameters."""
    return self._params

  @property
  def mode(self):
    """``train``, ``eval`` or ``infer``."""
    return self._mode


class _NoDefault:
  """The default of a required parameter: there is none."""

  def __repr__(self):
    return "no default"


NO_DEFAULT = _NoDefault()


class Param:
  """One declared parameter: the values it takes (``spec``), its ``default`` (``NO_DEFAULT``: a required key)
  and ``doc``, one line saying what it does, with units ([B, T, F], seconds, frames, Hz) where they apply.

  A default of None means "not set": the doc says what the part does then (derive a value, switch a feature off).
  Raises ValueError for an empty ``doc``.
  """

  def __init__(self, spec, default=NO_DEFAULT, doc=""):
    if not doc:
      raise ValueError("Param({}): every declared parameter needs a one-line doc".format(describe(spec)))
    self.spec = spec
    self.default = default
    self.doc = doc

  @property
  def required(self):
    """True when the parameter has no default."""
    return self.default is NO_DEFAULT

  def with_default(self, default):
    """The same declaration with another default (a function's own default for a shared argument table)."""
    return Param(self.spec, default, self.doc)

  def contains(self, value):
    """True if ``value`` matches ``spec``."""
    return _matches(value, self.spec)

  def __repr__(self):
    return describe(self.spec)


def keyword_arguments(name):
  """The declaration of ``<name>_params``: the keyword arguments the config's ``name`` (a class) is called with."""
  return Param(dict, {}, "keyword arguments of " + name)


class Inert(Param):
  """A key that the original's configs carry but that has no effect here (``reason`` says why): its value is
  checked against ``spec``, and the first config that sets it prints one note saying so. Its default is None:
  nothing reads it."""

  def __init__(self, spec, reason):
    super().__init__(spec, None, "no effect here: " + reason)
    self.reason = reason


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
  if isinstance(spec, (Range, ListOf, Param)):
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
  if isinstance(spec, (Range, ListOf, Param)):
    return spec.contains(value)
  if isinstance(spec, list):
    return value in spec
  return _type_matches(value, spec if isinstance(spec, tuple) else (spec,))


def check_params(config, required_dict, optional_dict, owner="config", prefix=""):
  """Raises ValueError naming ``owner`` and the key for a missing, unknown, ill-typed or out-of-range
  parameter. The dicts map each key to a ``Param`` or a bare spec; an optional key set to None passes unchecked.
  ``prefix`` is the key's path in the config (e.g. ``"encoder_params/convnet_layers[3]/"``)."""
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


def with_defaults(config, optional_dict):
  """A copy of ``config`` holding, for every optional key it lacks, the declared default (deep-copied, so that no
  two configs share a mutable default). A key set to None keeps None; bare specs declare no default."""
  filled = dict(config)
  for key, declaration in optional_dict.items():
    if key not in filled and isinstance(declaration, Param) and not declaration.required:
      filled[key] = copy.deepcopy(declaration.default)
  return filled


def signature_params(function, table, skip=()):
  """``(required, optional)`` declarations of the keyword arguments of ``function`` (a function or a class, whose
  ``__init__`` is read) but ``skip``: each argument's spec and doc from ``table`` (a ``name -> Param`` shared by a
  family of functions, e.g. every optimizer's arguments; an argument it lacks, of a user's own class, takes any
  value), its default from the signature (none: required)."""
  signature = inspect.signature(function.__init__ if inspect.isclass(function) else function).parameters
  required, optional = {}, {}
  for name, parameter in signature.items():
    if name in ("self",) + tuple(skip) or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
      continue
    declaration = table.get(name) or Param(None, doc="an argument of {}".format(function.__name__))
    if parameter.default is inspect.Parameter.empty:
      required[name] = declaration
    else:
      optional[name] = declaration.with_default(parameter.default)
  return required, optional


def param_line(name, values, default=NO_DEFAULT, doc=""):
  """One parameter in words: ``name (required; values): doc`` or ``name (optional; values; default D): doc``."""
  if default is NO_DEFAULT:
    return "{} (required; {}): {}".format(name, values, doc)
  return "{} (optional; {}; default {!r}): {}".format(name, values, default, doc)


def describe_params(required_dict, optional_dict):
  """One ``param_line`` per declared parameter, the required ones first, each group in name order. A bare spec
  (no ``Param``) shows default None: absent and None are the same to ``check_params``."""
  lines = []
  for declarations, default_of in ((required_dict, lambda _: NO_DEFAULT),
                                   (optional_dict, lambda d: d.default if isinstance(d, Param) else None)):
    for name in sorted(declarations):
      declaration = declarations[name]
      doc = declaration.doc if isinstance(declaration, Param) else "(undocumented: a bare spec)"
      lines.append(param_line(name, describe(declaration), default_of(declaration), doc))
  return lines

"""Declared parameters of a part and the single checker that validates a config against them.

Each part class declares ``get_required_params()`` and ``get_optional_params()`` as ``name -> spec``
where spec is a type, a tuple of types, a list of allowed values, or ``None`` (anything). The
declarations are merged up the class hierarchy by the classes themselves.
"""


def _describe(spec):
  if isinstance(spec, list):
    return "one of {}".format(spec)
  if isinstance(spec, tuple):
    return " or ".join(t.__name__ for t in spec)
  return spec.__name__


def _matches(value, spec):
  if spec is None:
    return True
  if isinstance(spec, list):
    return value in spec
  types = spec if isinstance(spec, tuple) else (spec,)
  if bool not in types and isinstance(value, bool) and (int in types or float in types):
    return False
  if float in types and isinstance(value, int) and not isinstance(value, bool):
    return True
  return isinstance(value, types)


def check_params(config, required_dict, optional_dict, owner="config"):
  """Raises ValueError naming ``owner`` and the key for a missing, unknown or ill-typed parameter."""
  if not isinstance(config, dict):
    raise ValueError("{}: parameters must be a dict, got {}".format(owner, type(config).__name__))
  for key, spec in required_dict.items():
    if key not in config:
      raise ValueError("{}: missing required parameter '{}' (expected {})".format(
          owner, key, _describe(spec) if spec is not None else "a value"))
  for key, value in config.items():
    if key in required_dict:
      spec = required_dict[key]
    elif key in optional_dict:
      spec = optional_dict[key]
      if value is None:
        continue
    else:
      known = sorted(list(required_dict) + list(optional_dict))
      raise ValueError("{}: unknown parameter '{}'. Known parameters: {}".format(owner, key, ", ".join(known)))
    if not _matches(value, spec):
      raise ValueError("{}: parameter '{}' is {!r} ({}), expected {}".format(
          owner, key, value, type(value).__name__, _describe(spec)))

"""Whether a checkpoint fits a graph: the entry each graph variable restores from (by name and shape), and the
model weights the checkpoint holds that the graph lacks (a removed layer). Used by eval, infer, export, the
resume of training and the warm start from a base model (utils/checkpoint.py)."""

# The model's own variables (weights, batch-norm statistics) live under this scope (models/encoder_decoder.py);
# optimizer slots, float32 master copies and loss-scale state live under Loss_Optimization/.
FORWARD_PASS = "ForwardPass/"
MASTER_COPY_PREFIX = "Loss_Optimization/FP32-master-copy/"
# tf.train.ExponentialMovingAverage names the moving average (shadow) of variable v "<v>/ExponentialMovingAverage".
EMA_SUFFIX = "/ExponentialMovingAverage"
SHOWN_PROBLEMS = 8
ABSENT = "absent from the checkpoint"
NOT_IN_MODEL = "in the checkpoint, not in the model"


class CheckpointMismatchError(ValueError):
  """A checkpoint does not hold the variables of the model it is restored into (another config's model)."""


def is_model_weight(name):
  """Whether variable ``name`` is one of the model's own (a weight or batch-norm statistic), not a moving
  average, optimizer slot, master copy or counter: the forward pass reads exactly these."""
  return name.startswith(FORWARD_PASS) and not name.endswith(EMA_SUFFIX)


def source_candidates(name, use_ema=False):
  """Checkpoint entries graph variable ``name`` may take its value from, preferred first: its float32 master
  copy (mixed-precision checkpoints), itself, and for a master copy of this graph the plain variable of a
  checkpoint trained without one; with ``use_ema`` the moving average of each of these first."""
  candidates = [MASTER_COPY_PREFIX + name, name]
  if name.startswith(MASTER_COPY_PREFIX):
    candidates.append(name[len(MASTER_COPY_PREFIX):])
  if use_ema:
    candidates = [candidate + EMA_SUFFIX for candidate in candidates] + candidates
  return candidates


def source_name(name, shape, stored, use_ema=False):
  """Entry of ``stored`` (name -> shape: a checkpoint's or a graph's variables) to take graph variable ``name``'s
  value from (the first of source_candidates stored with ``shape``, a list of ints); None when nothing of that
  shape is stored."""
  for candidate in source_candidates(name, use_ema):
    if candidate in stored and list(stored[candidate]) == shape:
      return candidate
  return None


def unmatched_reason(name, shape, stored, use_ema=False):
  """Why graph variable ``name`` of ``shape`` has no source in ``stored``: the shape of a candidate entry
  stored under another shape, else absent."""
  for candidate in source_candidates(name, use_ema):
    if candidate in stored:
      return "shape {} in the checkpoint, {} in the model".format(list(stored[candidate]), shape)
  return ABSENT


def match_sources(variables, stored, use_ema=False):
  """Pairs graph ``variables`` with checkpoint entries as eval, infer, export and warm starts restore them.

  stored: name -> shape of the checkpoint. Returns ``(sources, unmatched)``: {variable: entry name} and
  [(variable name, reason)] for the variables without a source.
  """
  sources, unmatched = {}, []
  for var in variables:
    name, shape = var.op.name, var.shape.as_list()
    source = source_name(name, shape, stored, use_ema)
    if source is None:
      unmatched.append((name, unmatched_reason(name, shape, stored, use_ema)))
    else:
      sources[var] = source
  return sources, unmatched


def match_exactly(variables, stored, stored_dtypes):
  """[(variable name, reason)] for the graph ``variables`` a tf.train.Saver cannot restore from a checkpoint
  (name -> shape ``stored``, name -> tf.DType ``stored_dtypes``): it reads each from the entry of its own name,
  which must have its shape and dtype."""
  problems = []
  for var in variables:
    name, shape, dtype = var.op.name, var.shape.as_list(), var.dtype.base_dtype
    if name not in stored:
      problems.append((name, ABSENT))
    elif list(stored[name]) != shape:
      problems.append((name, "shape {} in the checkpoint, {} in the model".format(list(stored[name]), shape)))
    elif stored_dtypes[name] != dtype:
      problems.append((name, "dtype {} in the checkpoint, {} in the model".format(stored_dtypes[name].name,
                                                                                   dtype.name)))
  return problems


def weights_missing_from_graph(stored, variables):
  """[(entry, reason)] for the model weights of checkpoint ``stored`` (name -> shape) that no graph variable
  (nor its master copy) is named after: a layer the model no longer has would otherwise be dropped unnoticed."""
  names = set()
  for var in variables:
    name = var.op.name
    names.add(name[len(MASTER_COPY_PREFIX):] if name.startswith(MASTER_COPY_PREFIX) else name)
  return [(name, NOT_IN_MODEL) for name in sorted(stored)
          if is_model_weight(name) and name not in names]


def _listed(items):
  shown = ", ".join(items[:SHOWN_PROBLEMS])
  return shown + (" and {} more".format(len(items) - SHOWN_PROBLEMS) if len(items) > SHOWN_PROBLEMS else "")


def mismatch_error(checkpoint, problems):
  """CheckpointMismatchError for ``problems`` ([(variable name, reason)], from the functions above): one line
  naming the checkpoint, then per kind its count and the first SHOWN_PROBLEMS variables (with both shapes or
  dtypes where they differ)."""
  problems = sorted(problems)
  changed = ["{} ({})".format(name, why) for name, why in problems if why.startswith(("shape", "dtype"))]
  absent = [name for name, why in problems if why == ABSENT]
  unused = [name for name, why in problems if why == NOT_IN_MODEL]
  parts = []
  if changed:
    parts.append("{} variable(s) of another shape or dtype: {}".format(len(changed), _listed(changed)))
  if absent:
    parts.append("it lacks {} variable(s) of the model: {}".format(len(absent), _listed(absent)))
  if unused:
    parts.append("{} weight(s) of the checkpoint are not in the model: {}".format(len(unused), _listed(unused)))
  return CheckpointMismatchError(
      "Checkpoint {} does not fit this config's model: {}. Was it trained with another config (vocabulary, layer "
      "sizes, optimizer, dtype)?".format(checkpoint, "; ".join(parts)))

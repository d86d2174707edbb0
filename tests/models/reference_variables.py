"""Variable lists of Jasper graphs derived from the spec's naming rules (4.4 step 4.3.4, 4.5, 4.9, 5.1, 5.2),
independently of the code that builds the graphs: the oracle of the variable-name and checkpoint-layout tests."""

# Layer tables of spec 4.6: (R, k, C, residual). All dense residual.
TABLE_5X3 = [(1, 11, 256, False), (3, 11, 256, True), (3, 13, 384, True), (3, 17, 512, True),
             (3, 21, 640, True), (3, 25, 768, True), (1, 29, 896, False), (1, 1, 1024, False)]
TABLE_10X5 = [(1, 11, 256, False)] + [
    (5, k, c, True) for k, c in [(11, 256), (11, 256), (13, 384), (13, 384), (17, 512), (17, 512),
                                 (21, 640), (21, 640), (25, 768), (25, 768)]] + [
    (1, 29, 896, False), (1, 1, 1024, False)]

ENC = "ForwardPass/w2l_encoder/"
DEC = "ForwardPass/fully_connected_ctc_decoder/fully_connected/"


def expected_trainables(table, features=64, vocab=29):
  """Ordered (name, shape) list from the spec's naming rules (4.4 step 4.3.4, 4.5, 4.9)."""
  names = []
  agg = []  # channel counts of the inputs of the residual blocks so far (dense residual sources)
  c_in = features
  for b, (repeat, k, c, residual) in enumerate(table, start=1):
    if residual:
      agg.append(c_in)
    for r in range(1, repeat + 1):
      sub = "conv{}{}".format(b, r)
      if residual and r == repeat:
        for i, c_src in enumerate(agg):
          names.append((ENC + sub + "/res_{}/kernel".format(i), [1, c_src, c]))
          names.append((ENC + sub + "/res_bn_{}/gamma".format(i), [c]))
          names.append((ENC + sub + "/res_bn_{}/beta".format(i), [c]))
      names.append((ENC + sub + "/kernel", [k, c_in if r == 1 else c, c]))
      names.append((ENC + sub + "/bn/gamma", [c]))
      names.append((ENC + sub + "/bn/beta", [c]))
    c_in = c
  names.append((DEC + "kernel", [c_in, vocab]))
  names.append((DEC + "bias", [vocab]))
  return names


def expected_forward_variables(table, features=64, vocab=29):
  """Ordered (name, shape, dtype name) of a float32 forward graph: the trainables, each batch-norm's moving
  mean and variance right after its beta."""
  variables = []
  for name, shape in expected_trainables(table, features, vocab):
    variables.append((name, shape, "float32"))
    if name.endswith("/beta"):
      scope = name[:-len("/beta")]
      variables += [(scope + "/moving_mean", shape, "float32"), (scope + "/moving_variance", shape, "float32")]
  return variables


# The Backoff loss scaler's state in creation order (spec 4.9, 5.6): iteration, last overflow iteration, scale.
BACKOFF_STATE = [("Loss_Optimization/Variable", [], "int64"), ("Loss_Optimization/Variable_1", [], "int64"),
                 ("Loss_Optimization/Variable_2", [], "float32")]


def expected_float32_training_variables(table, features=64, vocab=29):
  """Ordered (name, shape, dtype name) of the reference's float32 NovoGrad training graph with
  ``loss_scaling="Backoff"``: forward variables, ``global_step`` (optimize_loss step 2), the scaler's state
  (step 3.4, built whatever the dtype), one ``nvgrad2_ema{i}`` per trainable (NovoGrad's first apply), then
  the momentum slots ``Loss_Optimization/<var>/NovoGrad`` in trainable order."""
  trainables = expected_trainables(table, features, vocab)
  return (expected_forward_variables(table, features, vocab) + [("global_step", [], "int64")] + BACKOFF_STATE
          + [("Loss_Optimization/nvgrad2_ema{}".format(i), [], "float32") for i in range(len(trainables))]
          + [("Loss_Optimization/{}/NovoGrad".format(name), shape, "float32") for name, shape in trainables])

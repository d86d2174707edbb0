"""Freezing a session's graph: variables become constants and only what the outputs need is kept."""
import tensorflow.compat.v1 as tf

from open_seq2seq.parts.conv_block import WEIGHT_CONSTANTS
from open_seq2seq.utils.atomic import atomic_output


def frozen_graph_def(sess, output_names):
  """GraphDef of the ancestors of ``output_names`` with every variable replaced by its current value.

  Training-only nodes (Identity/CheckNumerics left by the variables, the Saver, the data pipeline, the
  greedy decoder) are dropped and devices cleared, so the graph imports on any machine. Tensors of the graph's
  WEIGHT_CONSTANTS collection (weights folded at build time, conv_block.py) are stored as constants of their
  values, in their dtype, in place of the ops that compute them from the weights. ``sess``: a session of the
  graph whose variables hold the weights; ``output_names``: node names (no ``:0``).
  """
  output_names = list(output_names)
  graph_def = tf.graph_util.convert_variables_to_constants(sess, sess.graph.as_graph_def(), output_names)
  graph_def = _store_weight_constants(sess, graph_def, output_names)
  graph_def = tf.graph_util.remove_training_nodes(graph_def, protected_nodes=output_names)
  for node in graph_def.node:
    node.device = ""
  return graph_def


def _store_weight_constants(sess, graph_def, output_names):
  """``graph_def`` with each WEIGHT_CONSTANTS tensor it computes replaced by a Const of its value in ``sess`` (same
  node name), and what only those tensors needed pruned."""
  present = {node.name for node in graph_def.node}
  tensors = [t for t in sess.graph.get_collection(WEIGHT_CONSTANTS) if t.op.name in present]
  if not tensors:
    return graph_def
  values = dict(zip((t.op.name for t in tensors), sess.run(tensors)))
  dtypes = {t.op.name: t.dtype for t in tensors}
  for node in graph_def.node:
    if node.name in values:
      node.op = "Const"
      del node.input[:]
      node.attr.clear()
      node.attr["dtype"].type = dtypes[node.name].as_datatype_enum
      node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(values[node.name], dtype=dtypes[node.name]))
  return tf.graph_util.extract_sub_graph(graph_def, output_names)


def write_graph_def(graph_def, path):
  """Writes ``graph_def`` to ``path`` as a binary GraphDef, atomically: a failed write leaves ``path`` as it was.

  Raises OSError when ``path`` cannot be written.
  """
  with atomic_output(path) as tmp_path, open(tmp_path, "wb") as handle:
    handle.write(graph_def.SerializeToString())

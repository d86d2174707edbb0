"""Freezing a session's graph: variables become constants and only what the outputs need is kept."""
import tensorflow.compat.v1 as tf

from open_seq2seq.utils.atomic import atomic_output


def frozen_graph_def(sess, output_names):
  """GraphDef of the ancestors of ``output_names`` with every variable replaced by its current value.

  Training-only nodes (Identity/CheckNumerics left by the variables, the Saver, the data pipeline, the
  greedy decoder) are dropped and devices cleared, so the graph imports on any machine. ``sess``: a session of
  the graph whose variables hold the weights; ``output_names``: node names (no ``:0``).
  """
  output_names = list(output_names)
  graph_def = tf.graph_util.convert_variables_to_constants(sess, sess.graph.as_graph_def(), output_names)
  graph_def = tf.graph_util.remove_training_nodes(graph_def, protected_nodes=output_names)
  for node in graph_def.node:
    node.device = ""
  return graph_def


def write_graph_def(graph_def, path):
  """Writes ``graph_def`` to ``path`` as a binary GraphDef, atomically: a failed write leaves ``path`` as it was.

  Raises OSError when ``path`` cannot be written.
  """
  with atomic_output(path) as tmp_path, open(tmp_path, "wb") as handle:
    handle.write(graph_def.SerializeToString())

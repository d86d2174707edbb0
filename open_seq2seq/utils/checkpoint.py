"""Restoring forward-pass variables from a checkpoint by name and shape (eval, infer, export)."""
import tensorflow.compat.v1 as tf

from open_seq2seq.utils.logging import deco_print


def latest_checkpoint(directory):
  """Path prefix of the newest checkpoint in ``directory`` or None."""
  if not directory or not tf.io.gfile.isdir(directory):
    return None
  return tf.train.latest_checkpoint(directory)


def build_restore_fn(checkpoint, variables=None):
  """Builds (before the graph is finalized) the ops restoring every graph variable whose name and shape
  exist in ``checkpoint``; others are reported. Returns ``restore(sess)``.

  A variable stored with another dtype (float16 weights into a float32 graph, say) is cast on assign.
  """
  variables = variables if variables is not None else tf.global_variables()
  stored = dict(tf.train.list_variables(checkpoint))
  reader = tf.train.load_checkpoint(checkpoint)
  dtypes = reader.get_variable_to_dtype_map()
  same_dtype, assign_ops = {}, []
  for var in variables:
    name = var.op.name
    if name in stored and list(stored[name]) == var.shape.as_list():
      if dtypes[name] == var.dtype.base_dtype:
        same_dtype[name] = var
      else:
        assign_ops.append(tf.assign(var, tf.cast(reader.get_tensor(name), var.dtype.base_dtype)))
    else:
      deco_print("Not restoring {} (absent from {} or of another shape)".format(name, checkpoint))
  saver = tf.train.Saver(same_dtype) if same_dtype else None

  def restore(sess):
    if saver is not None:
      saver.restore(sess, checkpoint)
    if assign_ops:
      sess.run(assign_ops)

  return restore

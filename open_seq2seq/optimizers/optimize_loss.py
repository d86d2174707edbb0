"""Gradient pipeline: global step, learning rate, batch-norm updates, clipping / LARC, optimizer step."""
import tensorflow.compat.v1 as tf

OPTIMIZER_CLS_NAMES = {
    "Adagrad": tf.train.AdagradOptimizer,
    "Adam": tf.train.AdamOptimizer,
    "Ftrl": tf.train.FtrlOptimizer,
    "Momentum": tf.train.MomentumOptimizer,
    "RMSProp": tf.train.RMSPropOptimizer,
    "SGD": tf.train.GradientDescentOptimizer,
}

SUMMARY_NAMES = ["learning_rate", "gradients", "gradient_norm", "global_gradient_norm", "variables",
                 "variable_norm", "larc_summaries", "loss_scale"]


def _global_norm_clip(grads_and_vars, clip_norm):
  grads = [g for g, _ in grads_and_vars]
  norm = tf.linalg.global_norm([tf.cast(g, tf.float32) for g in grads])
  scale = clip_norm * tf.minimum(1.0 / norm, 1.0 / clip_norm)
  return [(tf.cast(tf.cast(g, tf.float32) * scale, g.dtype), v) for g, v in grads_and_vars]


def _larc(grads_and_vars, learning_rate, larc_params, summaries):
  """Layer-wise adaptive rate control: scales each gradient by a trust ratio (``clip`` or ``scale`` mode)."""
  eta = larc_params["larc_eta"]
  mode = larc_params.get("larc_mode", "clip")
  min_update = larc_params.get("min_update", 1e-7)
  epsilon = larc_params.get("epsilon", 1e-7)
  scaled = []
  for grad, var in grads_and_vars:
    var_norm = tf.norm(tf.cast(var, tf.float32))
    grad_norm = tf.norm(tf.cast(grad, tf.float32))
    if mode == "clip":
      ratio = tf.minimum(tf.maximum(eta * var_norm / (learning_rate * (grad_norm + epsilon)), min_update), 1.0)
      if "larc_summaries" in summaries:
        tf.summary.scalar("larc_clip_on/{}".format(var.op.name), tf.cast(tf.less(ratio, 1.0), tf.int32))
    else:
      ratio = tf.maximum(eta * var_norm / (grad_norm + epsilon), min_update)
    if "larc_summaries" in summaries:
      tf.summary.scalar("larc_grad_update/{}".format(var.op.name), ratio)
      tf.summary.scalar("larc_final_lr/{}".format(var.op.name), tf.cast(learning_rate, tf.float32) * ratio)
    scaled.append((tf.saturate_cast(ratio, var.dtype.base_dtype) * grad, var))
  return scaled


def optimize_loss(loss, optimizer, optimizer_params, learning_rate_decay_fn, var_list=None,
                  clip_gradients=None, summaries=None, larc_params=None):
  """Builds the train op; fetching it runs one update and returns the pre-update loss."""
  summaries = summaries if summaries is not None else ["learning_rate", "global_gradient_norm"]
  for name in summaries:
    if name not in SUMMARY_NAMES:
      raise ValueError("Unknown summary '{}'; expected some of {}".format(name, SUMMARY_NAMES))
  if clip_gradients is not None and larc_params is not None:
    raise AttributeError("LARC and gradient norm clipping should not be used together")
  global_step = tf.train.get_or_create_global_step()
  learning_rate = learning_rate_decay_fn(global_step)
  if "learning_rate" in summaries:
    # The schedule's op is itself named "learning_rate"; a raw summary keeps that tag (not "learning_rate_1").
    tf.add_to_collection(tf.GraphKeys.SUMMARIES, tf.raw_ops.ScalarSummary(tags="learning_rate", values=learning_rate))
  with tf.variable_scope("Loss_Optimization"):
    update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    with tf.control_dependencies(update_ops):
      loss = tf.identity(loss)
    if isinstance(optimizer, str):
      if optimizer not in OPTIMIZER_CLS_NAMES:
        raise ValueError("Optimizer name '{}' is not one of {}".format(optimizer, sorted(OPTIMIZER_CLS_NAMES)))
      optimizer = OPTIMIZER_CLS_NAMES[optimizer]
    opt = optimizer(learning_rate=learning_rate, **optimizer_params)
    grads_and_vars = opt.compute_gradients(loss, var_list=var_list, colocate_gradients_with_ops=True)
    grads_and_vars = [(g, v) for g, v in grads_and_vars if g is not None]
    if "global_gradient_norm" in summaries:
      tf.summary.scalar("global_gradient_norm",
                        tf.linalg.global_norm([tf.cast(g, tf.float32) for g, _ in grads_and_vars]))
    if clip_gradients is not None:
      grads_and_vars = _global_norm_clip(grads_and_vars, clip_gradients)
    for grad, var in grads_and_vars:
      name = var.name.replace(":", "_")
      if "gradients" in summaries:
        tf.summary.histogram("gradients/" + name, grad)
      if "gradient_norm" in summaries:
        tf.summary.scalar("gradient_norm/" + name, tf.norm(tf.cast(grad, tf.float32)))
      if "variables" in summaries:
        tf.summary.histogram("variables/" + name, var)
      if "variable_norm" in summaries:
        tf.summary.scalar("variable_norm/" + name, tf.norm(tf.cast(var, tf.float32)))
    if larc_params is not None:
      grads_and_vars = _larc(grads_and_vars, learning_rate, larc_params, summaries)
    update_op = opt.apply_gradients(grads_and_vars, global_step=global_step)
    with tf.control_dependencies([update_op]):
      train_op = tf.identity(loss)
  return train_op, learning_rate

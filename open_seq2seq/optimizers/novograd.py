"""NovoGrad: momentum SGD on gradients normalised by a per-layer second moment.

    v_t = ||g_t||^2 on the first step, then beta2 * v_{t-1} + (1 - beta2) * ||g_t||^2
    m_t = beta1 * m_{t-1} + g_t / sqrt(v_t + epsilon) + weight_decay * w_{t-1}   (x (1 - beta1) if grad_averaging)
    w_t = w_{t-1} - lr_t * m_t

The reference computes v_t but never stores it, so its v_t is ||g_t||^2 at every step;
``ema_bug_compat=True`` reproduces that exactly. The per-layer moments live in variables
``nvgrad2_ema{i}`` either way, so checkpoints are interchangeable.

On CPU the momentum step of each layer is one fused kernel where it builds (fused_update.py), bit-identical to
the op-by-op update, which remains the path everywhere else.
"""
import tensorflow.compat.v1 as tf

from open_seq2seq.optimizers.fused_update import fused_update_ops


class NovoGrad(tf.train.MomentumOptimizer):
  """NovoGrad (OpenSeq2Seq's), on top of MomentumOptimizer: gradients are normalised by their per-layer second
  moment before the momentum update (see the module docstring)."""

  def __init__(self, learning_rate=1.0, beta1=0.95, beta2=0.98, epsilon=1e-8, weight_decay=0.0,
               grad_averaging=False, ema_bug_compat=False, use_locking=False, name="NovoGrad"):
    super().__init__(learning_rate, momentum=beta1, use_locking=use_locking, name=name, use_nesterov=False)
    self._beta1 = beta1
    self._beta2 = beta2
    self._epsilon = epsilon
    self._weight_decay = weight_decay
    self._grad_averaging = grad_averaging
    self._ema_bug_compat = ema_bug_compat
    self._grads_ema = None
    # Per variable name, what apply_gradients hands the fused kernel in _resource_apply_dense.
    self._fused_inputs, self._fused_averages, self._fused_copies = {}, None, {}

  def can_fuse(self, grads_and_vars):
    """True if ``apply_gradients`` can run as the fused kernel (fused_update.py) for these gradients and
    variables: dense float32 gradients of float32 resource variables, and the kernel available."""
    return all(getattr(var, "handle", None) is not None and var.dtype.base_dtype == tf.float32
               and isinstance(grad, tf.Tensor) and grad.dtype.base_dtype == tf.float32
               for grad, var in grads_and_vars if grad is not None) and fused_update_ops() is not None

  def apply_gradients(self, grads_and_vars, global_step=None, name=None, moving_averages=None,
                      reduced_copies=None):
    """Normalises each gradient by its layer's second moment, adds weight decay and applies the momentum update
    after storing the moments (unless ``ema_bug_compat``).

    Where ``can_fuse`` holds, each variable's update is one fused kernel, which also moves ``moving_averages``
    (``(decay, {variable name: shadow variable})``: shadow -= (shadow - var) * (1 - decay) after the update) and
    writes ``reduced_copies`` (``{variable name: bfloat16 or float16 variable}``: the updated weights,
    saturate-cast); both need ``can_fuse``, and raise ValueError without it.
    """
    grads_and_vars = list(grads_and_vars)
    fused = self.can_fuse(grads_and_vars)
    if (moving_averages or reduced_copies) and not fused:
      raise ValueError("NovoGrad: moving_averages and reduced_copies need the fused update (can_fuse)")
    if self._grads_ema is None:
      self._grads_ema = [
          tf.get_variable("nvgrad2_ema{}".format(index), shape=[], dtype=tf.float32,
                          initializer=tf.zeros_initializer(), trainable=False)
          for index in range(len(grads_and_vars))]
    prepared = []
    ema_updates = []
    self._fused_inputs = {}
    for index, (grad, var) in enumerate(grads_and_vars):
      if grad is None:
        continue
      ema = self._grads_ema[index]
      grad_norm_sq = 2.0 * tf.nn.l2_loss(tf.cast(grad, tf.float32))
      second_moment = tf.where(tf.equal(ema, 0.0), grad_norm_sq, self._beta2 * ema + (1.0 - self._beta2) * grad_norm_sq)
      if not self._ema_bug_compat:
        ema_updates.append(tf.assign(ema, second_moment))
      scale = tf.math.rsqrt(second_moment + self._epsilon)
      if fused:
        self._fused_inputs[var.op.name] = scale
        prepared.append((grad, var))
        continue
      grad = grad * tf.cast(scale, grad.dtype)
      if self._weight_decay > 0:
        grad = grad + self._weight_decay * var
      if self._grad_averaging:
        grad = grad * (1.0 - self._beta1)
      prepared.append((grad, var))
    self._fused_averages = moving_averages
    self._fused_copies = reduced_copies or {}
    with tf.control_dependencies(ema_updates):
      return super().apply_gradients(prepared, global_step=global_step, name=name)

  def _resource_apply_dense(self, grad, var):
    scale = self._fused_inputs.get(var.op.name)
    if scale is None:
      return super()._resource_apply_dense(grad, var)
    decay, shadows = self._fused_averages or (1.0, {})
    averages = [shadows[var.op.name].handle] if var.op.name in shadows else []
    copy = self._fused_copies.get(var.op.name)
    return fused_update_ops().jasper_novo_grad_apply(
        var.handle, self.get_slot(var, "momentum").handle, grad, scale,
        tf.cast(self._learning_rate_tensor, tf.float32), tf.cast(self._momentum_tensor, tf.float32),
        tf.constant(self._weight_decay, tf.float32), tf.constant(1.0 - self._beta1, tf.float32),
        averages, tf.cast(decay, tf.float32), [copy.handle] if copy is not None else [],
        copy_dtype=copy.dtype.base_dtype if copy is not None else tf.bfloat16,
        use_weight_decay=self._weight_decay > 0, grad_averaging=self._grad_averaging)

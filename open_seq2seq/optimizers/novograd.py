"""NovoGrad: momentum SGD on gradients normalised by a per-layer second moment.

    v_t = ||g_t||^2 on the first step, then beta2 * v_{t-1} + (1 - beta2) * ||g_t||^2
    m_t = beta1 * m_{t-1} + g_t / sqrt(v_t + epsilon) + weight_decay * w_{t-1}   (x (1 - beta1) if grad_averaging)
    w_t = w_{t-1} - lr_t * m_t

The reference computes v_t but never stores it, so its v_t is ||g_t||^2 at every step;
``ema_bug_compat=True`` reproduces that exactly. The per-layer moments live in variables
``nvgrad2_ema{i}`` either way, so checkpoints are interchangeable.
"""
import tensorflow.compat.v1 as tf


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

  def apply_gradients(self, grads_and_vars, global_step=None, name=None):
    """Normalises each gradient by its layer's second moment, adds weight decay and applies the momentum update
    after storing the moments (unless ``ema_bug_compat``)."""
    grads_and_vars = list(grads_and_vars)
    if self._grads_ema is None:
      self._grads_ema = [
          tf.get_variable("nvgrad2_ema{}".format(index), shape=[], dtype=tf.float32,
                          initializer=tf.zeros_initializer(), trainable=False)
          for index in range(len(grads_and_vars))]
    normalised = []
    ema_updates = []
    for index, (grad, var) in enumerate(grads_and_vars):
      if grad is None:
        continue
      ema = self._grads_ema[index]
      grad_norm_sq = tf.reduce_sum(tf.square(tf.cast(grad, tf.float32)))
      # tf.cond calls both branches at once, in this iteration: the loop variables are bound as defaults only
      # to say so.
      second_moment = tf.cond(tf.equal(ema, 0.0), lambda g=grad_norm_sq: g,
                              lambda e=ema, g=grad_norm_sq: self._beta2 * e + (1.0 - self._beta2) * g)
      if not self._ema_bug_compat:
        ema_updates.append(tf.assign(ema, second_moment))
      grad = grad / tf.cast(tf.sqrt(second_moment + self._epsilon), grad.dtype)
      if self._weight_decay > 0:
        grad = grad + self._weight_decay * var
      if self._grad_averaging:
        grad = grad * (1.0 - self._beta1)
      normalised.append((grad, var))
    with tf.control_dependencies(ema_updates):
      return super().apply_gradients(normalised, global_step=global_step, name=name)

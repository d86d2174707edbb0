"""Learning-rate policies: functions of the global step returning a scalar tensor named ``learning_rate``."""
import tensorflow.compat.v1 as tf


def _warmup(learning_rate, global_step, warmup_steps):
  if not warmup_steps:
    return tf.constant(learning_rate, tf.float32)
  step = tf.cast(global_step, tf.float32)
  return tf.where(step < warmup_steps, learning_rate * step / float(warmup_steps),
                  tf.constant(learning_rate, tf.float32))


def poly_decay(global_step, learning_rate, decay_steps, power=1.0, begin_decay_at=0, min_lr=0.0,
               warmup_steps=0):
  """``(lr0 - min_lr) * (1 - min(s', D) / D) ** power + min_lr`` with ``s' = s - begin_decay_at``.

  Before ``begin_decay_at`` the rate is constant; during the first ``warmup_steps`` it ramps linearly
  from 0. ``decay_steps`` D defaults to the run's last step (set by the model).
  """
  base = _warmup(learning_rate, global_step, warmup_steps)
  step = tf.cast(global_step, tf.float32)
  decay_step = tf.minimum(tf.maximum(step - float(begin_decay_at), 0.0), float(decay_steps))
  decayed = (base - min_lr) * tf.pow(1.0 - decay_step / float(decay_steps), power) + min_lr
  return tf.where(step < begin_decay_at, base, decayed, name="learning_rate")


def fixed_lr(global_step, learning_rate):
  del global_step
  return tf.constant(learning_rate, tf.float32, name="learning_rate")

"""One rank of the gradient-averaging test: rank r starts from W0 + r (rank 0's weights must win the broadcast),
feeds its own micro-batches of a least-squares problem, and saves its weights after one update."""
import os
import sys

import numpy as np
import tensorflow.compat.v1 as tf

from open_seq2seq.distributed.workers import HorovodWorkers
from open_seq2seq.optimizers.lr_policies import fixed_lr
from open_seq2seq.optimizers.optimize_loss import optimize_loss

tf.disable_eager_execution()
LEARNING_RATE = 0.1


def problem():
  """Inputs [rank, micro-batch, 4, 5], targets [rank, micro-batch, 4, 3] and the initial weights."""
  rng = np.random.default_rng(11)
  return (rng.standard_normal((2, 2, 4, 5)).astype(np.float32), rng.standard_normal((2, 2, 4, 3)).astype(np.float32),
          rng.standard_normal((5, 3)).astype(np.float32))


def main(out_dir, iter_size):
  workers = HorovodWorkers()
  rank = workers.rank()
  inputs, targets, initial = problem()
  x = tf.placeholder(tf.float32, [None, 5])
  y = tf.placeholder(tf.float32, [None, 3])
  w = tf.get_variable("w", initializer=initial + rank)
  loss = tf.reduce_mean(tf.square(tf.matmul(x, w) - y))
  skip = tf.placeholder_with_default(False, []) if iter_size > 1 else None
  train_op, _ = optimize_loss(loss, "SGD", {}, lambda step: fixed_lr(step, learning_rate=LEARNING_RATE),
                              summaries=[], iter_size=iter_size, skip_update_ph=skip,
                              reduce_gradients=workers.reduce_gradients)
  broadcast = workers.broadcast_hook()
  broadcast.begin()
  with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    broadcast.after_create_session(sess, None)
    micro_batches = range(2) if iter_size > 1 else [None]
    for index, micro in enumerate(micro_batches):
      if micro is None:
        feed = {x: inputs[rank].reshape(-1, 5), y: targets[rank].reshape(-1, 3)}
      else:
        feed = {x: inputs[rank, micro], y: targets[rank, micro], skip: index < iter_size - 1}
      sess.run(train_op, feed)
    np.save(os.path.join(out_dir, "rank{}.npy".format(rank)), sess.run(w))


if __name__ == "__main__":
  main(sys.argv[1], int(sys.argv[2]))

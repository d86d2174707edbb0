"""NovoGrad (spec 5.1) against a numpy implementation, in both EMA modes, fused and op by op."""
import numpy as np
import pytest
import tensorflow as tf

from open_seq2seq.optimizers.novograd import NovoGrad

tf.compat.v1.disable_eager_execution()
tf1 = tf.compat.v1

# Loss = sum_i sum( 0.5 * a_i * w_i^2 + b_i * w_i )  ->  gradient a_i * w_i + b_i (changes every step).
INIT = [np.array([1.0, -2.0, 0.5]), np.array([[0.3, -0.7], [1.5, 2.0]]), np.array(0.8)]
A = [np.array([2.0, 0.5, 3.0]), np.array([[1.0, 4.0], [0.2, 1.5]]), np.array(5.0)]
B = [np.array([0.1, -0.3, 0.2]), np.array([[-1.0, 0.0], [0.5, 0.25]]), np.array(-0.4)]


def numpy_novograd(steps, lr, beta1, beta2, eps, wd, grad_averaging, ema_bug_compat):
  w = [x.astype(np.float64).copy() for x in INIT]
  m = [np.zeros_like(x) for x in w]
  v = [None] * len(w)
  history = []
  for _ in range(steps):
    grads = [a * wi + b for a, wi, b in zip(A, w, B)]
    for i, g in enumerate(grads):
      norm_sq = float(np.sum(g * g))
      if ema_bug_compat or v[i] is None:
        v[i] = norm_sq
      else:
        v[i] = beta2 * v[i] + (1 - beta2) * norm_sq
      update = g / np.sqrt(v[i] + eps) + wd * w[i]
      if grad_averaging:
        update = update * (1 - beta1)
      m[i] = beta1 * m[i] + update
      w[i] = w[i] - lr * m[i]
    history.append(([x.copy() for x in w], list(v)))
  return history


CASES = [
    dict(lr=0.1, beta1=0.95, beta2=0.98, eps=1e-8, wd=0.001, grad_averaging=False),
    dict(lr=0.05, beta1=0.9, beta2=0.5, eps=1e-4, wd=0.0, grad_averaging=False),
    dict(lr=0.2, beta1=0.8, beta2=0.7, eps=1e-8, wd=0.01, grad_averaging=True),
]


@pytest.mark.parametrize("ema_bug_compat", [False, True])
@pytest.mark.parametrize("case", CASES)
def test_novograd_matches_numpy(case, ema_bug_compat, update_path):
  steps = 5
  expected = numpy_novograd(steps, case["lr"], case["beta1"], case["beta2"], case["eps"], case["wd"],
                            case["grad_averaging"], ema_bug_compat)
  with tf.Graph().as_default():
    variables = [tf1.get_variable("w{}".format(i), initializer=tf.constant(x, tf.float32))
                 for i, x in enumerate(INIT)]
    loss = tf.add_n([tf.reduce_sum(0.5 * a * v * v + b * v) for a, b, v in
                     zip([tf.constant(a, tf.float32) for a in A], [tf.constant(b, tf.float32) for b in B],
                         variables)])
    global_step = tf1.train.get_or_create_global_step()
    with tf1.variable_scope("Loss_Optimization"):
      opt = NovoGrad(learning_rate=case["lr"], beta1=case["beta1"], beta2=case["beta2"],
                     epsilon=case["eps"], weight_decay=case["wd"], grad_averaging=case["grad_averaging"],
                     ema_bug_compat=ema_bug_compat)
      train_op = opt.minimize(loss, global_step=global_step, var_list=variables)
    fused_ops = [op for op in tf1.get_default_graph().get_operations() if op.type == "JasperNovoGradApply"]
    assert len(fused_ops) == (3 if update_path == "fused" else 0)
    emas = {v.op.name: v for v in tf1.global_variables() if "nvgrad2_ema" in v.op.name}
    assert sorted(emas) == ["Loss_Optimization/nvgrad2_ema{}".format(i) for i in range(3)]
    for v in emas.values():
      assert v.shape.as_list() == []
      assert v not in tf1.trainable_variables()
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      for step in range(steps):
        sess.run(train_op)
        want_w, want_v = expected[step]
        for i, var in enumerate(variables):
          np.testing.assert_allclose(sess.run(var), want_w[i], rtol=1e-5, atol=1e-6,
                                     err_msg="step {} variable {}".format(step + 1, i))
        ema_values = [sess.run(emas["Loss_Optimization/nvgrad2_ema{}".format(i)]) for i in range(3)]
        if ema_bug_compat:
          assert ema_values == [0.0, 0.0, 0.0]
        else:
          np.testing.assert_allclose(ema_values, want_v, rtol=1e-5,
                                     err_msg="EMA after step {}".format(step + 1))
      assert sess.run(global_step) == steps


def test_beta2_matters_only_without_compat():
  """With the reference bug (compat) beta2 has no effect; with the fixed EMA it does."""
  base = dict(steps=4, lr=0.1, beta1=0.9, eps=1e-8, wd=0.0, grad_averaging=False)
  compat_a = numpy_novograd(beta2=0.1, ema_bug_compat=True, **base)[-1][0]
  compat_b = numpy_novograd(beta2=0.9, ema_bug_compat=True, **base)[-1][0]
  fixed_a = numpy_novograd(beta2=0.1, ema_bug_compat=False, **base)[-1][0]
  fixed_b = numpy_novograd(beta2=0.9, ema_bug_compat=False, **base)[-1][0]
  assert all(np.allclose(x, y) for x, y in zip(compat_a, compat_b))
  assert not all(np.allclose(x, y) for x, y in zip(fixed_a, fixed_b))


def test_momentum_slot_names():
  with tf.Graph().as_default():
    w = tf1.get_variable("layer/kernel", initializer=tf.constant([1.0, 2.0]))
    with tf1.variable_scope("Loss_Optimization"):
      NovoGrad(learning_rate=0.1).minimize(tf.reduce_sum(w * w), var_list=[w])
    names = {v.op.name for v in tf1.global_variables()}
  assert "Loss_Optimization/layer/kernel/NovoGrad" in names
  assert "Loss_Optimization/nvgrad2_ema0" in names

"""The processes of a data-parallel run (``use_horovod=True``) and what the training code needs from them.

Two engines answer the same interface: Horovod (CPU with Gloo, GPU with NCCL) and, on Ascend machines, HCCL
through npu_bridge with the rank identity taken from the environment the launch scripts set. Rank 0 is the
one that writes checkpoints, summaries, logs and outputs.
"""
import tensorflow.compat.v1 as tf

from open_seq2seq.distributed.backend import select_backend
from open_seq2seq.distributed.npu import (AscendEnvironment, npu_broadcast_hook, npu_distributed_optimizer,
                                          register_npu_ops)

_REDUCED_PRECISION = (tf.float16, tf.bfloat16)


class BroadcastVariablesHook(tf.train.SessionRunHook):
  """Copies every global variable from rank 0 once, right after the session is created (after restore and
  after transfer-learning initialisation, so every rank starts from rank 0's weights). Reduced-precision
  variables travel as float32."""

  def __init__(self, broadcast):
    self._broadcast = broadcast
    self._op = None

  def begin(self):
    """Builds the op that assigns each global variable its value broadcast from rank 0 (reduced precision as
    float32)."""
    assignments = []
    with tf.name_scope("broadcast_from_rank_0"):
      for var in tf.global_variables():
        dtype = var.dtype.base_dtype
        value = tf.cast(var, tf.float32) if dtype in _REDUCED_PRECISION else var.read_value()
        received = self._broadcast(value, root_rank=0, name=var.op.name.replace("/", "_"))
        assignments.append(var.assign(tf.cast(received, dtype), read_value=False))
    self._op = tf.group(*assignments)

  def after_create_session(self, session, coord):
    """Runs the broadcast."""
    session.run(self._op)


class HorovodWorkers:
  """Horovod: gradients are averaged with allreduce, Python results are gathered with allgather_object."""

  can_gather = True

  def __init__(self):
    import horovod.tensorflow as hvd
    hvd.init()
    self._hvd = hvd

  def size(self):
    """Number of Horovod processes."""
    return self._hvd.size()

  def rank(self):
    """This process's Horovod rank."""
    return self._hvd.rank()

  def local_rank(self):
    """This process's rank on its host."""
    return self._hvd.local_rank()

  def reduce_gradients(self, grads):
    """``grads`` averaged over the workers with Horovod allreduce."""
    with tf.name_scope("all_reduce"):
      return [self._hvd.allreduce(grad, op=self._hvd.Average) for grad in grads]

  @staticmethod
  def wrap_optimizer(optimizer):
    """``optimizer`` unchanged: Horovod reduces the gradients in reduce_gradients."""
    return optimizer

  def broadcast_hook(self):
    """A BroadcastVariablesHook that broadcasts with Horovod."""
    return BroadcastVariablesHook(self._hvd.broadcast)

  def gather(self, value):
    """``[value of rank 0, value of rank 1, ...]`` on every rank (any picklable value). Runs in a graph of
    its own, so it also works while a finalized training graph is in use."""
    with tf.Graph().as_default(), tf.Session() as session:
      return self._hvd.allgather_object(value, session=session, name="gather_results")


class AscendWorkers:
  """Ascend NPUs through npu_bridge: the distributed optimizer averages gradients over HCCL inside
  compute_gradients, npu_bridge's hook broadcasts the variables, and the session is handed to the NPU."""

  can_gather = False

  def __init__(self, environ=None):
    self._environment = AscendEnvironment.from_environ(environ)
    register_npu_ops()

  def size(self):
    """Number of ranks (RANK_SIZE)."""
    return self._environment.size()

  def rank(self):
    """This process's rank (DEVICE_INDEX)."""
    return self._environment.rank()

  def local_rank(self):
    """This process's device on its server (DEVICE_ID)."""
    return self._environment.local_rank()

  @staticmethod
  def reduce_gradients(grads):
    """``grads`` unchanged: the NPU distributed optimizer averages them."""
    return grads

  @staticmethod
  def wrap_optimizer(optimizer):
    """``optimizer`` wrapped by npu_bridge's distributed optimizer."""
    return npu_distributed_optimizer(optimizer)

  def broadcast_hook(self):
    """npu_bridge's variable broadcast hook for this rank."""
    return npu_broadcast_hook(self.rank())

  def gather(self, value):
    """Not available over HCCL: always raises NotImplementedError."""
    raise NotImplementedError("gathering Python results over HCCL is not available; evaluate unsharded")


def init_workers():
  """The workers of this process's run: Ascend when npu_bridge imports, Horovod otherwise."""
  if select_backend() == "npu":
    return AscendWorkers()
  return HorovodWorkers()

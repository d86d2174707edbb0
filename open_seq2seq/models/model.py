"""Generic model: parameters, step counting, data layer and the training op."""
import copy
import inspect
import re
import time

import numpy as np
import tensorflow.compat.v1 as tf

from open_seq2seq.optimizers.automatic_loss_scaler import ALGORITHMS as LOSS_SCALERS
from open_seq2seq.optimizers.ema import AveragedWeightsGetter, check_ema_decay
from open_seq2seq.optimizers.lr_policies import check_lr_policy_params
from open_seq2seq.optimizers.optimize_loss import check_optimizer_params, optimize_loss
from open_seq2seq.utils.logging import deco_print
from open_seq2seq.utils.params import Range, check_params
from open_seq2seq.utils.precision import DTYPES, canonical_dtype, compute_dtype


class Model:
  """Base of every model. ``mode`` is ``train``, ``eval`` or ``infer``."""

  @staticmethod
  def get_required_params():
    return {
        "use_horovod": bool,
        "batch_size_per_gpu": Range(int, low=1),
        "data_layer": None,
    }

  @staticmethod
  def get_optional_params():
    return {
        "logdir": str,
        "num_gpus": Range(int, low=1),
        "gpu_ids": list,
        "load_model": str,
        # np.random.seed takes < 2**32, and Horovod adds each worker's rank.
        "random_seed": Range(int, low=0, high=2 ** 31 - 1),
        "num_epochs": Range(int, low=1),
        "max_steps": Range(int, low=1),
        "iter_size": Range(int, low=1),
        "bench_start": Range(int, low=0),
        # Periodic actions: every N global steps; 0 or None switches the action off.
        "save_summaries_steps": Range(int, low=0),
        "print_loss_steps": Range(int, low=0),
        "print_samples_steps": Range(int, low=0),
        "print_bench_info_steps": Range(int, low=0),
        "save_checkpoint_steps": Range(int, low=0),
        "num_checkpoints": Range(int, low=1),
        "restore_best_checkpoint": bool,
        "eval_steps": Range(int, low=1),
        "eval_batch_size_per_gpu": Range(int, low=1),
        "hooks": list,
        "data_layer_params": dict,
        "optimizer": None,  # a name of optimize_loss.OPTIMIZER_CLS_NAMES or a tf.train.Optimizer class
        "optimizer_params": dict,  # checked against the optimizer's arguments (optimize_loss.OPTIMIZER_PARAMS)
        "freeze_variables_regex": str,
        "initializer": None,
        "initializer_params": dict,
        "regularizer": None,
        "regularizer_params": dict,
        "dtype": DTYPES,
        "lr_policy": None,
        "lr_policy_params": dict,  # checked against the policy's arguments (lr_policies.LR_POLICY_PARAMS)
        "max_grad_norm": Range(float, low=0, low_inclusive=False),
        "larc_params": dict,  # optimize_loss.LARC_PARAMS
        "loss_scaling": (float, str),  # a fixed scale > 0, or "Backoff" / "LogMax" (automatic_loss_scaler.py)
        "loss_scaling_params": dict,
        "summaries": list,
        "use_xla_jit": bool,
        "max_consecutive_nonfinite_steps": Range(int, low=1),
        # default 0.0 (off), e.g. 0.999: average the weights; eval/infer/export use it (ema.py)
        "ema_decay": Range(float, low=0, high=1, high_inclusive=False),
    }

  def _check_nested_params(self):
    """The optimizer's, LARC's and the lr policy's parameters, each error naming the key's full path."""
    p = self._params
    owner = type(self).__name__
    if p.get("optimizer") is not None:
      check_optimizer_params(p["optimizer"], p.get("optimizer_params", {}), p.get("larc_params"), owner)
    if p.get("lr_policy") is not None:
      check_lr_policy_params(p["lr_policy"], p.get("lr_policy_params", {}), owner)
    scale = p.get("loss_scaling")
    positive = Range(float, low=0, low_inclusive=False)
    # A misspelt algorithm name would otherwise pass silently in float32, which applies no scaling.
    if scale is not None and (scale.lower() not in LOSS_SCALERS if isinstance(scale, str)
                              else not positive.contains(scale)):
      raise ValueError("{}: parameter 'loss_scaling' is {!r}, expected a float > 0 or 'Backoff' / 'LogMax'".format(
          owner, scale))

  def __init__(self, params, mode="train", hvd=None):
    check_params(params, self.get_required_params(), self.get_optional_params(), type(self).__name__)
    self._params = copy.deepcopy(params)
    self._mode = mode
    self._hvd = hvd
    p = self._params
    if p["use_horovod"] and hvd is None:
      raise ValueError("use_horovod=True: start one process per device (horovodrun, or scripts/run_8p.sh), "
                       "whose workers run.py passes to the model")
    num_gpus = p.get("num_gpus", len(p.get("gpu_ids", [])) or 1)
    if hvd is None and num_gpus != 1:
      raise ValueError("num_gpus={}: one replica per process; use use_horovod=True with one process per device, "
                       "or set --num_gpus=1".format(num_gpus))
    p.setdefault("iter_size", 1)
    p["dtype"] = canonical_dtype(p.get("dtype", tf.float32))
    if isinstance(p.get("loss_scaling"), str):
      try:
        p["loss_scaling"] = float(p["loss_scaling"])  # a fixed scale given on the command line
      except ValueError:
        pass
    self._check_nested_params()
    p.setdefault("random_seed", int(time.time()))
    if hvd is not None:
      # Each worker draws its own dropout masks, augmentation and shuffle order.
      p["random_seed"] += hvd.rank()
    p.setdefault("num_checkpoints", 5)
    p.setdefault("max_consecutive_nonfinite_steps", 10)
    p["ema_decay"] = p.get("ema_decay") or 0.0
    check_ema_decay(p["ema_decay"])
    p.setdefault("bench_start", 10)
    p.setdefault("eval_batch_size_per_gpu", p["batch_size_per_gpu"])
    p.setdefault("logdir", "")
    for name in ("save_summaries_steps", "print_loss_steps", "print_samples_steps", "save_checkpoint_steps",
                 "print_bench_info_steps"):
      p.setdefault(name, None)
    if p["print_samples_steps"] and p["print_loss_steps"] and p["print_samples_steps"] % p["print_loss_steps"]:
      raise ValueError("print_samples_steps ({}) must be a multiple of print_loss_steps ({})".format(
          p["print_samples_steps"], p["print_loss_steps"]))
    tf.set_random_seed(p["random_seed"])
    np.random.seed(p["random_seed"])

    dl_params = copy.deepcopy(p.get("data_layer_params", {}))
    dl_params["batch_size"] = p["batch_size_per_gpu"] if mode == "train" else p["eval_batch_size_per_gpu"]
    dl_params["mode"] = mode
    dl_params.setdefault("random_seed", p["random_seed"])
    dl_params["dtype"] = self.get_tf_dtype()
    shard = hvd is not None and hvd.can_gather
    self._data_layer = p["data_layer"](params=dl_params, model=self, num_workers=hvd.size() if shard else None,
                                       worker_id=hvd.rank() if shard else None)

    self._steps_in_epoch = None
    if mode == "train":
      if ("max_steps" in p) == ("num_epochs" in p):
        raise ValueError("Exactly one of max_steps and num_epochs must be set for training")
      if "max_steps" in p:
        self._last_step = p["max_steps"]
      else:
        steps = self._data_layer.get_size_in_samples() // (p["batch_size_per_gpu"] * p["iter_size"])
        if steps == 0:
          raise ValueError("Overall batch size is too big for this dataset.")
        self._steps_in_epoch = steps
        self._last_step = p["num_epochs"] * steps
    self.train_op = None
    self.skip_update_ph = None
    self.loss = None
    self.learning_rate = None
    self.num_objects_per_step = None
    self.output = None

  @property
  def params(self):
    return self._params

  @property
  def mode(self):
    return self._mode

  @property
  def hvd(self):
    return self._hvd

  @property
  def last_step(self):
    return self._last_step

  @property
  def ema_decay(self):
    """Decay of the moving average of the weights; 0.0 when the model keeps or uses none."""
    return self._params["ema_decay"]

  def get_data_layer(self):
    return self._data_layer

  def get_tf_dtype(self):
    return compute_dtype(self._params["dtype"])

  def _build_forward_pass_graph(self, input_tensors):
    """Returns ``(loss or None, list of output tensors)``."""
    raise NotImplementedError

  def compile(self, force_var_reuse=False):
    """Builds the data pipeline, forward pass and (train mode) the optimizer step.

    ``force_var_reuse``: the model shares the variables of a training model built before it in this graph
    (train_eval's eval model); with ``ema_decay`` set it then reads their moving averages instead.
    """
    p = self._params
    initializer = None
    if p.get("initializer") is not None:
      initializer = p["initializer"](**p.get("initializer_params", {}))
    averaged_weights = None
    if force_var_reuse and self._mode != "train" and self.ema_decay:
      averaged_weights = AveragedWeightsGetter()
    with tf.variable_scope(tf.get_variable_scope(), reuse=True if force_var_reuse else None,
                           initializer=initializer, dtype=self.get_tf_dtype(), custom_getter=averaged_weights):
      self._data_layer.build_graph()
      input_tensors = self._data_layer.input_tensors
      self.loss, self.output = self._build_forward_pass_graph(input_tensors)
      self.num_objects_per_step = tf.reduce_sum(input_tensors["source_tensors"][1])
    if averaged_weights is not None:
      deco_print(averaged_weights.describe())
    if self._mode == "train":
      self._build_train_op()

  def _build_train_op(self):
    p = self._params
    lr_policy = p.get("lr_policy")
    lr_params = dict(p.get("lr_policy_params", {}))
    if lr_policy is None:
      raise ValueError("Training needs an lr_policy")
    signature = inspect.signature(lr_policy).parameters
    if "decay_steps" in signature and "decay_steps" not in lr_params:
      decay_steps = self._last_step
      if "begin_decay_at" in signature and "warmup_steps" in signature:
        lr_params["begin_decay_at"] = max(lr_params.get("begin_decay_at", 0), lr_params.get("warmup_steps", 0))
        decay_steps -= lr_params["begin_decay_at"]
      lr_params["decay_steps"] = decay_steps
    if "steps_per_epoch" in signature and "steps_per_epoch" not in lr_params and self._steps_in_epoch:
      lr_params["steps_per_epoch"] = self._steps_in_epoch

    def learning_rate_fn(global_step):
      return lr_policy(global_step=global_step, **lr_params)

    var_list = tf.trainable_variables()
    freeze = p.get("freeze_variables_regex")
    if freeze:
      var_list = [v for v in var_list if not re.match(freeze, v.name)]
    regularization = [tf.cast(term, tf.float32) for term in tf.losses.get_regularization_losses()]
    total_loss = tf.add_n([tf.cast(self.loss, tf.float32)] + regularization)
    if p["iter_size"] > 1:
      # Fed True on the runs that only accumulate gradients; defaults to an update.
      self.skip_update_ph = tf.placeholder_with_default(False, [], name="skip_update")
    self.train_op, self.learning_rate = optimize_loss(
        loss=total_loss, optimizer=p["optimizer"], optimizer_params=p.get("optimizer_params", {}),
        learning_rate_decay_fn=learning_rate_fn, var_list=var_list, dtype=p["dtype"],
        clip_gradients=p.get("max_grad_norm"), summaries=p.get("summaries"), larc_params=p.get("larc_params"),
        loss_scaling=p.get("loss_scaling", 1.0), loss_scaling_params=p.get("loss_scaling_params"),
        iter_size=p["iter_size"], skip_update_ph=self.skip_update_ph,
        reduce_gradients=self._hvd.reduce_gradients if self._hvd is not None else None,
        wrap_optimizer=self._hvd.wrap_optimizer if self._hvd is not None else None, ema_decay=p["ema_decay"])
    tf.summary.scalar("train_loss", self.loss)
    if self._steps_in_epoch:
      tf.summary.scalar("epoch", tf.floor(tf.cast(tf.train.get_global_step(), tf.float32) / self._steps_in_epoch))
    deco_print("Trainable variables:")
    total = 0
    for var in var_list:
      count = int(np.prod(var.shape.as_list()))
      total += count
      deco_print("{}".format(var.name), offset=2)
      deco_print("shape: {}, {}".format(var.shape.as_list(), var.dtype.base_dtype.name), offset=4)
    deco_print("Total trainable parameters: {}".format(total))
    if p["ema_decay"]:
      deco_print("Keeping exponential moving averages of the weights (<var>/ExponentialMovingAverage), decay "
                 "min({}, (1 + step) / (10 + step))".format(p["ema_decay"]))

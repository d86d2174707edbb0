"""Generic model: parameters, step counting, data layer and the training op."""
import copy
import re
import time

import numpy as np
import tensorflow.compat.v1 as tf

from open_seq2seq.optimizers.automatic_loss_scaler import ALGORITHMS as LOSS_SCALERS
from open_seq2seq.optimizers.ema import AveragedWeightsGetter, check_ema_decay
from open_seq2seq.optimizers.lr_policies import check_lr_policy_params, policy_declarations
from open_seq2seq.optimizers.optimize_loss import DEFAULT_SUMMARIES, check_optimizer_params, optimize_loss
from open_seq2seq.utils.logging import deco_print
from open_seq2seq.utils.params import Configured, Param, Range, check_params, keyword_arguments, with_defaults
from open_seq2seq.utils.precision import DTYPES, canonical_dtype, compute_dtype


class Model(Configured):
  """Base of every model. ``mode`` is ``train``, ``eval`` or ``infer``."""

  @staticmethod
  def get_required_params():
    """``use_horovod``, ``batch_size_per_gpu`` and ``data_layer``."""
    return {
        "use_horovod": Param(bool, doc="one process per device, the workers started by horovodrun or "
                                       "scripts/run_8p.sh; gradients are averaged across them"),
        "batch_size_per_gpu": Param(Range(int, low=1), doc="utterances per training batch of each worker (per "
                                                           "micro-batch with iter_size > 1)"),
        "data_layer": Param(None, doc="the data layer class, e.g. Speech2TextDataLayer"),
    }

  @staticmethod
  def get_optional_params():
    """The optional model parameters (logging, training length, optimizer, precision, evaluation, ...)."""
    # Periodic actions run every N global steps; 0 or None switches the action off.
    every = Range(int, low=0)
    return {
        "logdir": Param(str, "", "folder of checkpoints, summaries and logs; '': none (benchmarks)"),
        "num_gpus": Param(Range(int, low=1), None, "replicas in this process: 1 (more devices: use_horovod); "
                                                   "None: len(gpu_ids) or 1"),
        "gpu_ids": Param(list, [], "device ids of the original's multi-GPU mode; only their count is read"),
        "load_model": Param(str, None, "checkpoint (file or folder) whose matching variables start a new "
                                       "training run; None or '': none"),
        # np.random.seed takes < 2**32, and Horovod adds each worker's rank.
        "random_seed": Param(Range(int, low=0, high=2 ** 31 - 1), None, "seed of TensorFlow, numpy and the data "
                                                                       "layer, plus each worker's rank; None: "
                                                                       "the current time"),
        "num_epochs": Param(Range(int, low=1), None, "training length in passes over the data (training needs "
                                                     "exactly one of num_epochs and max_steps)"),
        "max_steps": Param(Range(int, low=1), None, "training length in global steps"),
        "iter_size": Param(Range(int, low=1), 1, "batches whose gradients are accumulated into one update"),
        "bench_start": Param(Range(int, low=0), 10, "steps before the speed measurements start (warm-up)"),
        "save_summaries_steps": Param(every, None, "global steps between TensorBoard summaries"),
        "print_loss_steps": Param(every, None, "global steps between printed losses (and train_progress.csv "
                                               "rows)"),
        "print_samples_steps": Param(every, None, "global steps between printed sample transcripts; a multiple "
                                                  "of print_loss_steps"),
        "print_bench_info_steps": Param(every, None, "timed steps between printed throughputs"),
        "save_checkpoint_steps": Param(every, None, "global steps between checkpoints"),
        "num_checkpoints": Param(Range(int, low=1), 5, "checkpoints kept (and best-WER checkpoints in train_eval)"),
        "restore_best_checkpoint": Param(bool, False, "eval and infer restore train_eval's best-WER checkpoint "
                                                      "instead of the latest"),
        "eval_steps": Param(Range(int, low=1), None, "global steps between train_eval's evaluations (train_eval "
                                                     "needs it)"),
        "eval_batch_size_per_gpu": Param(Range(int, low=1), None, "utterances per eval and infer batch; None: "
                                                                  "batch_size_per_gpu"),
        "hooks": Param(list, [], "tf.train.SessionRunHook classes run.py adds to training, each built with "
                                 "(train_model, eval_model)"),
        "data_layer_params": Param(dict, {}, "the data layer's parameters (describe its class)"),
        "optimizer": Param(None, None, "an optimizer name (Adagrad, Adam, Ftrl, Momentum, RMSProp, SGD) or a "
                                       "tf.train.Optimizer class such as NovoGrad; training needs one"),
        "optimizer_params": Param(dict, {}, "the optimizer's arguments but learning_rate (describe the optimizer)"),
        "freeze_variables_regex": Param(str, None, "variables whose name matches it (re.match) are not trained"),
        "initializer": Param(None, None, "initializer class of the model's variables, called with "
                                         "initializer_params; None: TensorFlow's (glorot uniform)"),
        "initializer_params": keyword_arguments("initializer"),
        "regularizer": Param(None, None, "regularizer class called with regularizer_params, handed to the encoder "
                                         "and decoder that set none; None: no regularization"),
        "regularizer_params": keyword_arguments("regularizer"),
        "dtype": Param(DTYPES, tf.float32, "precision: tf.float32, 'mixed' (float16 with float32 master weights "
                                           "and loss scaling) or 'bfloat16' (the same in bfloat16)"),
        "lr_policy": Param(None, None, "function of the global step returning the learning rate (lr_policies.py); "
                                       "training needs one"),
        "lr_policy_params": Param(dict, {}, "the policy's arguments (describe the policy)"),
        "max_grad_norm": Param(Range(float, low=0, low_inclusive=False), None, "clip the gradients to this global "
                                                                               "norm; None: no clipping"),
        "larc_params": Param(dict, None, "layer-wise adaptive rate control (describe LARC); None: off"),
        "loss_scaling": Param((float, str), 1.0, "loss scale of float16 training: a fixed factor > 0, or 'Backoff' "
                                                 "/ 'LogMax' (automatic)"),
        "loss_scaling_params": Param(dict, None, "the automatic loss scaler's settings (describe Backoff, LogMax); "
                                                 "None: its defaults"),
        "summaries": Param(list, DEFAULT_SUMMARIES, "TensorBoard summaries, some of optimize_loss.SUMMARY_NAMES"),
        "use_xla_jit": Param(bool, False, "compile the graph with XLA (run.py --use_xla_jit)"),
        "max_consecutive_nonfinite_steps": Param(Range(int, low=1), 10, "training stops after this many "
                                                                        "consecutive steps with a non-finite loss "
                                                                        "or gradients, or all-zero gradients"),
        "ema_decay": Param(Range(float, low=0, high=1, high_inclusive=False), 0.0, "decay of the moving average "
                                                                                   "of the weights that eval, infer "
                                                                                   "and export use (ema.py); 0 or "
                                                                                   "None: off"),
    }

  def _check_nested_params(self):
    """The optimizer's, LARC's and the lr policy's parameters, each error naming the key's full path."""
    p = self._params
    owner = type(self).__name__
    if p["optimizer"] is not None:
      check_optimizer_params(p["optimizer"], p["optimizer_params"], p["larc_params"], owner)
    if p["lr_policy"] is not None:
      check_lr_policy_params(p["lr_policy"], p["lr_policy_params"], owner)
    scale = p["loss_scaling"]
    positive = Range(float, low=0, low_inclusive=False)
    # A misspelt algorithm name would otherwise pass silently in float32, which applies no scaling.
    if scale is not None and (scale.lower() not in LOSS_SCALERS if isinstance(scale, str)
                              else not positive.contains(scale)):
      raise ValueError("{}: parameter 'loss_scaling' is {!r}, expected a float > 0 or 'Backoff' / 'LogMax'".format(
          owner, scale))

  def __init__(self, params, mode="train", hvd=None):
    check_params(params, self.get_required_params(), self.get_optional_params(), type(self).__name__)
    self._params = with_defaults(copy.deepcopy(params), self.get_optional_params())
    self._mode = mode
    self._hvd = hvd
    p = self._params
    if p["use_horovod"] and hvd is None:
      raise ValueError("use_horovod=True: start one process per device (horovodrun, or scripts/run_8p.sh), "
                       "whose workers run.py passes to the model")
    num_gpus = p["num_gpus"] or len(p["gpu_ids"]) or 1
    if hvd is None and num_gpus != 1:
      raise ValueError("num_gpus={}: one replica per process; use use_horovod=True with one process per device, "
                       "or set --num_gpus=1".format(num_gpus))
    p["dtype"] = canonical_dtype(p["dtype"])
    if isinstance(p["loss_scaling"], str):
      try:
        p["loss_scaling"] = float(p["loss_scaling"])  # a fixed scale given on the command line
      except ValueError:
        pass
    self._check_nested_params()
    if p["random_seed"] is None:
      p["random_seed"] = int(time.time())
    if hvd is not None:
      # Each worker draws its own dropout masks, augmentation and shuffle order.
      p["random_seed"] += hvd.rank()
    # An explicit None switches the average off as 0 does.
    p["ema_decay"] = float(p["ema_decay"] or 0)
    check_ema_decay(p["ema_decay"])
    if p["eval_batch_size_per_gpu"] is None:
      p["eval_batch_size_per_gpu"] = p["batch_size_per_gpu"]
    if p["print_samples_steps"] and p["print_loss_steps"] and p["print_samples_steps"] % p["print_loss_steps"]:
      raise ValueError("print_samples_steps ({}) must be a multiple of print_loss_steps ({})".format(
          p["print_samples_steps"], p["print_loss_steps"]))
    tf.set_random_seed(p["random_seed"])
    np.random.seed(p["random_seed"])

    dl_params = copy.deepcopy(p["data_layer_params"])
    dl_params["batch_size"] = p["batch_size_per_gpu"] if mode == "train" else p["eval_batch_size_per_gpu"]
    dl_params["mode"] = mode
    dl_params.setdefault("random_seed", p["random_seed"])
    dl_params["dtype"] = self.get_tf_dtype()
    shard = hvd is not None and hvd.can_gather
    self._data_layer = p["data_layer"](params=dl_params, model=self, num_workers=hvd.size() if shard else None,
                                       worker_id=hvd.rank() if shard else None)

    self._steps_in_epoch = None
    if mode == "train":
      if (p["max_steps"] is None) == (p["num_epochs"] is None):
        raise ValueError("Exactly one of max_steps and num_epochs must be set for training")
      if p["max_steps"] is not None:
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
  def hvd(self):
    """The workers object passed to the model (Horovod or Ascend), or None."""
    return self._hvd

  @property
  def last_step(self):
    """The global step training stops at (``max_steps``, or ``num_epochs`` times the steps per epoch)."""
    return self._last_step

  @property
  def ema_decay(self):
    """Decay of the moving average of the weights; 0.0 when the model keeps or uses none."""
    return self._params["ema_decay"]

  def get_data_layer(self):
    """The data layer instance."""
    return self._data_layer

  def get_tf_dtype(self):
    """The TensorFlow dtype the model computes in (from ``dtype``)."""
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
    if p["initializer"] is not None:
      initializer = p["initializer"](**p["initializer_params"])
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
    lr_policy = p["lr_policy"]
    lr_params = dict(p["lr_policy_params"])
    if lr_policy is None:
      raise ValueError("Training needs an lr_policy")
    # The policy's arguments with its own defaults: every argument it takes is a key (check_lr_policy_params
    # made sure the required ones are set).
    settings = with_defaults(lr_params, policy_declarations(lr_policy)[1])
    if "decay_steps" in settings and "decay_steps" not in lr_params:
      decay_steps = self._last_step
      if "begin_decay_at" in settings and "warmup_steps" in settings:
        lr_params["begin_decay_at"] = max(settings["begin_decay_at"], settings["warmup_steps"])
        decay_steps -= lr_params["begin_decay_at"]
      lr_params["decay_steps"] = decay_steps
    if "steps_per_epoch" in settings and "steps_per_epoch" not in lr_params and self._steps_in_epoch:
      lr_params["steps_per_epoch"] = self._steps_in_epoch

    def learning_rate_fn(global_step):
      """The learning rate policy at ``global_step`` with the resolved ``lr_params``."""
      return lr_policy(global_step=global_step, **lr_params)

    var_list = tf.trainable_variables()
    freeze = p["freeze_variables_regex"]
    if freeze:
      var_list = [v for v in var_list if not re.match(freeze, v.name)]
    regularization = [tf.cast(term, tf.float32) for term in tf.losses.get_regularization_losses()]
    total_loss = tf.add_n([tf.cast(self.loss, tf.float32)] + regularization)
    if p["iter_size"] > 1:
      # Fed True on the runs that only accumulate gradients; defaults to an update.
      self.skip_update_ph = tf.placeholder_with_default(False, [], name="skip_update")
    self.train_op, self.learning_rate = optimize_loss(
        loss=total_loss, optimizer=p["optimizer"], optimizer_params=p["optimizer_params"],
        learning_rate_decay_fn=learning_rate_fn, var_list=var_list, dtype=p["dtype"],
        clip_gradients=p["max_grad_norm"], summaries=p["summaries"], larc_params=p["larc_params"],
        loss_scaling=p["loss_scaling"], loss_scaling_params=p["loss_scaling_params"],
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

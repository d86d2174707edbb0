# The tiny config made deterministic across processes for the Horovod tests: no dropout, dither or
# augmentation, no shuffling, momentum SGD (whose update is linear in the gradient, so a wrong average shows).
# With identical batches on every rank, a 2-process step must equal a single-process step. A hook saves
# each process's trainable weights at the end to $JASPER_WEIGHTS_DIR/rank<r>.npz.
import copy
import os
import runpy

import numpy as np

_tiny = runpy.run_path(os.path.join(os.path.dirname(__file__), "..", "..", "configs", "speech2text",
                                    "jasper_tiny_nvgrad.py"), init_globals={"tf": tf})


class SaveWeightsHook(tf.train.SessionRunHook):

  def __init__(self, train_model, eval_model):
    del train_model, eval_model

  def end(self, session):
    rank = int(os.environ.get("HOROVOD_RANK", "0"))
    values = session.run({v.op.name: v for v in tf.trainable_variables()})
    np.savez(os.path.join(os.environ["JASPER_WEIGHTS_DIR"], "rank{}.npz".format(rank)),
             **{name.replace("/", "|"): value for name, value in values.items()})


base_model = _tiny["base_model"]
base_params = copy.deepcopy(_tiny["base_params"])
base_params.update({"optimizer": "Momentum", "optimizer_params": {"momentum": 0.9}, "max_steps": 6,
                    "print_loss_steps": 2, "print_samples_steps": None, "save_checkpoint_steps": 6,
                    "save_summaries_steps": 2})
base_params["lr_policy_params"]["learning_rate"] = 0.01
base_params["encoder_params"]["dropout_keep_prob"] = 1.0
for layer in base_params["encoder_params"]["convnet_layers"]:
  layer["dropout_keep_prob"] = 1.0
base_params["data_layer_params"]["dither"] = 0.0
train_params = copy.deepcopy(_tiny["train_params"])
train_params["data_layer_params"].pop("augmentation", None)
train_params["data_layer_params"]["shuffle"] = False
train_params["hooks"] = [SaveWeightsHook]
eval_params = copy.deepcopy(_tiny["eval_params"])
infer_params = copy.deepcopy(_tiny["infer_params"])

# The tiny config whose features turn NaN once global_step reaches $JASPER_NAN_FROM_STEP: every later step has
# non-finite gradients, so training must stop after max_consecutive_nonfinite_steps, keeping finite checkpoints.
import copy
import os
import runpy

from open_seq2seq.data import Speech2TextDataLayer

_tiny = runpy.run_path(os.path.join(os.path.dirname(__file__), "..", "..", "configs", "speech2text",
                                    "jasper_tiny_nvgrad.py"), init_globals={"tf": tf})


class NaNAfterStepDataLayer(Speech2TextDataLayer):

  def build_graph(self):
    super().build_graph()
    features, lengths = self._input_tensors["source_tensors"]
    poisoned = tf.train.get_or_create_global_step() >= int(os.environ["JASPER_NAN_FROM_STEP"])
    features = tf.cond(poisoned, lambda: features * float("nan"), lambda: features)
    self._input_tensors["source_tensors"] = [features, lengths]


base_model = _tiny["base_model"]
base_params = copy.deepcopy(_tiny["base_params"])
base_params.update({"data_layer": NaNAfterStepDataLayer, "max_consecutive_nonfinite_steps": 4,
                    "save_checkpoint_steps": 3, "print_loss_steps": 1, "print_samples_steps": None})
train_params = copy.deepcopy(_tiny["train_params"])
train_params["data_layer"] = NaNAfterStepDataLayer
eval_params = copy.deepcopy(_tiny["eval_params"])
infer_params = copy.deepcopy(_tiny["infer_params"])

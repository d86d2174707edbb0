# The tiny config for the input-reliability tests: train/eval/infer manifests from $JASPER_TRAIN_CSV /
# $JASPER_EVAL_CSV when set, skip_bad_data from $JASPER_SKIP_BAD_DATA, max_duration from $JASPER_MAX_DURATION,
# and from global step $JASPER_STALL_FROM_STEP on a training input that never arrives (the step spins inside
# TensorFlow, as a pipeline whose every element is filtered out did).
import copy
import os
import runpy

from open_seq2seq.data import Speech2TextDataLayer

_tiny = runpy.run_path(os.path.join(os.path.dirname(__file__), "..", "..", "configs", "speech2text",
                                    "jasper_tiny_nvgrad.py"), init_globals={"tf": tf})


class StallingDataLayer(Speech2TextDataLayer):

  def build_graph(self):
    super().build_graph()
    if "JASPER_STALL_FROM_STEP" not in os.environ:
      return
    features, lengths = self._input_tensors["source_tensors"]
    stall = tf.train.get_or_create_global_step() >= int(os.environ["JASPER_STALL_FROM_STEP"])

    def spin():
      endless = tf.while_loop(lambda i: i >= 0, lambda i: i + 1, [tf.constant(0, tf.int64)])
      with tf.control_dependencies([endless]):
        return tf.identity(features)

    self._input_tensors["source_tensors"] = [tf.cond(stall, spin, lambda: features), lengths]


base_model = _tiny["base_model"]
base_params = copy.deepcopy(_tiny["base_params"])
base_params.update({"data_layer": StallingDataLayer, "print_samples_steps": None, "eval_steps": 1000})
base_params["data_layer_params"]["skip_bad_data"] = os.environ.get("JASPER_SKIP_BAD_DATA") == "1"
train_params = copy.deepcopy(_tiny["train_params"])
eval_params = copy.deepcopy(_tiny["eval_params"])
infer_params = copy.deepcopy(_tiny["infer_params"])
for _params, _variable in [(train_params, "JASPER_TRAIN_CSV"), (eval_params, "JASPER_EVAL_CSV"),
                           (infer_params, "JASPER_EVAL_CSV")]:
  if os.environ.get("JASPER_MAX_DURATION"):
    _params["data_layer_params"]["max_duration"] = float(os.environ["JASPER_MAX_DURATION"])
  if os.environ.get(_variable):
    _params["data_layer_params"]["dataset_files"] = [os.environ[_variable]]

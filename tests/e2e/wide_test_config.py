# The tiny config with a wider last convolution (160 channels instead of 128): the model changed after training,
# for the end-to-end test of resuming a checkpoint that does not fit.
import copy
import os
import runpy

_tiny = runpy.run_path(os.path.join(os.path.dirname(__file__), "..", "..", "configs", "speech2text",
                                    "jasper_tiny_nvgrad.py"), init_globals={"tf": tf})

base_model = _tiny["base_model"]
base_params = copy.deepcopy(_tiny["base_params"])
base_params["encoder_params"]["convnet_layers"][-1]["num_channels"] = 160
train_params = copy.deepcopy(_tiny["train_params"])
eval_params = copy.deepcopy(_tiny["eval_params"])
infer_params = copy.deepcopy(_tiny["infer_params"])

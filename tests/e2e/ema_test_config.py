# The tiny config with an exponential moving average of the weights (ema_decay), for the end-to-end EMA test.
import copy
import os
import runpy

_tiny = runpy.run_path(os.path.join(os.path.dirname(__file__), "..", "..", "configs", "speech2text",
                                    "jasper_tiny_nvgrad.py"), init_globals={"tf": tf})

base_model = _tiny["base_model"]
base_params = copy.deepcopy(_tiny["base_params"])
base_params["ema_decay"] = 0.9
train_params = copy.deepcopy(_tiny["train_params"])
eval_params = copy.deepcopy(_tiny["eval_params"])
infer_params = copy.deepcopy(_tiny["infer_params"])

# Jasper DR 5x3 on LibriSpeech 960 h, 8 devices with Horovod/HCCL (Ascend port's 8p config): the 1p config
# trained for 50 epochs on 8 workers. Dataset root: LIBRISPEECH_ROOT, as in the 1p config.
import copy
import os
import runpy

_one_device = runpy.run_path(os.path.join(os.path.dirname(__file__), "jasper5x3_LibriSpeech_nvgrad_masks_1p.py"),
                             init_globals={"tf": tf})

base_model = _one_device["base_model"]
base_params = dict(copy.deepcopy(_one_device["base_params"]), use_horovod=True, num_epochs=50, num_gpus=8)
train_params = copy.deepcopy(_one_device["train_params"])
eval_params = copy.deepcopy(_one_device["eval_params"])
infer_params = copy.deepcopy(_one_device["infer_params"])

# Jasper DR 10x5 on LibriSpeech 960 h with SpecAugment masks (OpenSeq2Seq's published model): the
# speed-perturbation config with 2 frequency and 2 time masks of up to 6 bins/frames instead.
import copy
import os
import runpy

_speed_perturbed = runpy.run_path(os.path.join(os.path.dirname(__file__), "jasper10x5_LibriSpeech_nvgrad.py"),
                                  init_globals={"tf": tf})

base_model = _speed_perturbed["base_model"]
base_params = copy.deepcopy(_speed_perturbed["base_params"])
train_params = copy.deepcopy(_speed_perturbed["train_params"])
train_params["data_layer_params"]["augmentation"] = {
    "n_freq_mask": 2,
    "n_time_mask": 2,
    "width_freq_mask": 6,
    "width_time_mask": 6,
}
eval_params = copy.deepcopy(_speed_perturbed["eval_params"])
infer_params = copy.deepcopy(_speed_perturbed["infer_params"])

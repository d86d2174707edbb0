# A tiny Jasper DR (about 0.3 M parameters) for tests and quick checks: the mini config with fewer, narrower
# layers, a few dozen steps and frequent checkpoints. Corpus root: JASPER_MINI_CORPUS, as in the mini config.
import copy
import os
import runpy

from open_seq2seq.encoders.jasper_layers import conv_layer, jasper_blocks

_mini = runpy.run_path(os.path.join(os.path.dirname(__file__), "jasper_mini_nvgrad_masks.py"), init_globals={"tf": tf})

base_model = _mini["base_model"]
base_params = copy.deepcopy(_mini["base_params"])
base_params.update({
    "max_steps": 40,
    "batch_size_per_gpu": 8,
    "eval_batch_size_per_gpu": 8,
    "save_summaries_steps": 10,
    "print_loss_steps": 5,
    "print_samples_steps": 20,
    "eval_steps": 20,
    "save_checkpoint_steps": 20,
    "logdir": "jasper_tiny_log_folder",
    "load_model": "",
    "ema_decay": 0.0,
})
# The reference's quadratic decay, not the mini config's linear one: what the tests' short runs were written with.
base_params["lr_policy_params"].update({"learning_rate": 0.05, "warmup_steps": 0, "power": 2.0})
# A Jasper 1x2: prologue, one block of two sub-blocks, two epilogue layers.
base_params["encoder_params"]["convnet_layers"] = [
    conv_layer(kernel=11, channels=64, keep_prob=0.9, stride=2),
    *jasper_blocks([(11, 64, 0.9)], repeat=2),
    conv_layer(kernel=13, channels=96, keep_prob=0.9, dilation=2),
    conv_layer(kernel=1, channels=128, keep_prob=0.9),
]
train_params = copy.deepcopy(_mini["train_params"])
train_params["data_layer_params"].pop("length_bucket_boundaries")
# Tests train a few dozen steps: speed perturbation and SpecAugment only, as the mini config had them before
# its waveform augmentation.
train_params["data_layer_params"]["augmentation"] = {
    "speed_perturbation_ratio": [0.9, 1.0, 1.1], "n_freq_mask": 2, "n_time_mask": 2, "width_freq_mask": 6,
    "width_time_mask": 6}
eval_params = copy.deepcopy(_mini["eval_params"])
infer_params = copy.deepcopy(_mini["infer_params"])

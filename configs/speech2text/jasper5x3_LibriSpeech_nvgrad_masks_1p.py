# Jasper DR 5x3 on LibriSpeech 960 h, one device (Ascend port's 1p config: 1 epoch): the 10x5 SpecAugment
# recipe (jasper10x5_LibriSpeech_nvgrad_masks.py: NovoGrad, LARC, features, CTC head, masks) with five blocks
# of three sub-blocks and the port's length caps.
# Set the dataset root in ONE place: the LIBRISPEECH_ROOT environment variable (default /data/librispeech),
# the folder that holds the importer's librivox-*.csv files.
import copy
import os
import runpy

from open_seq2seq.encoders.jasper_layers import conv_layer, jasper_blocks

_ten_by_five = runpy.run_path(os.path.join(os.path.dirname(__file__), "jasper10x5_LibriSpeech_nvgrad_masks.py"),
                              init_globals={"tf": tf})

residual_dense = True

base_model = _ten_by_five["base_model"]
base_params = dict(copy.deepcopy(_ten_by_five["base_params"]), use_horovod=False, num_epochs=1, num_gpus=1)
# Jasper 5x3 (paper's table 1): prologue, five blocks of three sub-blocks, two epilogue layers.
base_params["encoder_params"]["convnet_layers"] = [
    conv_layer(kernel=11, channels=256, keep_prob=0.8, stride=2),
    *jasper_blocks([(11, 256, 0.8), (13, 384, 0.8), (17, 512, 0.8), (21, 640, 0.7), (25, 768, 0.7)],
                   repeat=3, residual_dense=residual_dense),
    conv_layer(kernel=29, channels=896, keep_prob=0.6, dilation=2),
    conv_layer(kernel=1, channels=1024, keep_prob=0.6),
]

# The port's caps: utterances up to 16.63 s (1664 frames of 10 ms) and 96 characters.
length_caps = {"max_feature_length": 1664, "max_label_length": 96}
train_params = copy.deepcopy(_ten_by_five["train_params"])
train_params["data_layer_params"].update(max_duration=16.63, **length_caps)
eval_params = copy.deepcopy(_ten_by_five["eval_params"])
eval_params["data_layer_params"].update(max_duration=16.63, **length_caps)
infer_params = copy.deepcopy(_ten_by_five["infer_params"])
infer_params["data_layer_params"].update(length_caps)

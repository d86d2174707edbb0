# Jasper DR 10x5 on LibriSpeech 960 h with 3-fold speed perturbation (OpenSeq2Seq).
# Set the dataset root in ONE place: the LIBRISPEECH_ROOT environment variable (default /data/librispeech),
# the folder that holds the importer's librivox-*.csv files.
import os

from open_seq2seq.data import Speech2TextDataLayer
from open_seq2seq.decoders import FullyConnectedCTCDecoder
from open_seq2seq.encoders import TDNNEncoder
from open_seq2seq.encoders.jasper_layers import conv_layer, jasper_blocks
from open_seq2seq.losses import CTCLoss
from open_seq2seq.models import Speech2Text
from open_seq2seq.optimizers.lr_policies import poly_decay
from open_seq2seq.optimizers.novograd import NovoGrad
from open_seq2seq.parts.initializers import xavier_initializer

data_root = os.environ.get("LIBRISPEECH_ROOT", "/data/librispeech")
repo_root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

residual_dense = True

base_model = Speech2Text

base_params = {
    "random_seed": 0,
    "use_horovod": True,
    "num_epochs": 400,

    "num_gpus": 8,
    "batch_size_per_gpu": 32,
    "iter_size": 1,

    "save_summaries_steps": 100,
    "print_loss_steps": 10,
    "print_samples_steps": 2200,
    "eval_steps": 2200,
    "save_checkpoint_steps": 1100,
    "num_checkpoints": 2,
    "logdir": "jasper_log_folder",

    "optimizer": NovoGrad,
    "optimizer_params": {
        "beta1": 0.95,
        "beta2": 0.98,
        "epsilon": 1e-08,
        "weight_decay": 0.001,
        "grad_averaging": False,
    },
    "lr_policy": poly_decay,
    "lr_policy_params": {
        "learning_rate": 0.02,
        "min_lr": 1e-5,
        "power": 2.0,
    },
    "larc_params": {
        "larc_eta": 0.001,
    },

    "dtype": "mixed",
    "loss_scaling": "Backoff",

    "summaries": ["learning_rate", "variables", "gradients", "larc_summaries",
                  "variable_norm", "gradient_norm", "global_gradient_norm"],

    "encoder": TDNNEncoder,
    "encoder_params": {
        # Jasper 10x5 (paper's table 1): prologue, ten blocks of five sub-blocks (two per table row), two
        # epilogue layers.
        "convnet_layers": [
            conv_layer(kernel=11, channels=256, keep_prob=0.8, stride=2),
            *jasper_blocks([(11, 256, 0.8), (13, 384, 0.8), (17, 512, 0.8), (21, 640, 0.7), (25, 768, 0.7)],
                           repeat=5, blocks_per_row=2, residual_dense=residual_dense),
            conv_layer(kernel=29, channels=896, keep_prob=0.6, dilation=2),
            conv_layer(kernel=1, channels=1024, keep_prob=0.6),
        ],
        "dropout_keep_prob": 0.7,
        "initializer": xavier_initializer,
        "initializer_params": {"uniform": False},
        "normalization": "batch_norm",
        "activation_fn": tf.nn.relu,
        "data_format": "channels_last",
        "use_conv_mask": True,
    },

    "decoder": FullyConnectedCTCDecoder,
    "decoder_params": {
        "initializer": xavier_initializer,
        "use_language_model": False,
        "infer_logits_to_pickle": False,
    },
    "loss": CTCLoss,
    "loss_params": {},

    "data_layer": Speech2TextDataLayer,
    "data_layer_params": {
        "num_audio_features": 64,
        "input_type": "logfbank",
        "vocab_file": os.path.join(repo_root, "open_seq2seq/test_utils/toy_speech_data/vocab.txt"),
        "norm_per_feature": True,
        "window": "hanning",
        "precompute_mel_basis": True,
        "sample_freq": 16000,
        "pad_to": 16,
        "dither": 1e-5,
        "backend": "librosa",
    },
}

train_params = {
    "data_layer": Speech2TextDataLayer,
    "data_layer_params": {
        "augmentation": {
            "speed_perturbation_ratio": [0.9, 1.0, 1.1],
        },
        "dataset_files": [
            os.path.join(data_root, "librivox-train-clean-100.csv"),
            os.path.join(data_root, "librivox-train-clean-360.csv"),
            os.path.join(data_root, "librivox-train-other-500.csv"),
        ],
        "max_duration": 16.7,
        "shuffle": True,
    },
}

eval_params = {
    "data_layer": Speech2TextDataLayer,
    "data_layer_params": {
        "dataset_files": [os.path.join(data_root, "librivox-dev-clean.csv")],
        "shuffle": False,
    },
}

infer_params = {
    "data_layer": Speech2TextDataLayer,
    "data_layer_params": {
        "dataset_files": [os.path.join(data_root, "librivox-test-clean.csv")],
        "shuffle": False,
    },
}

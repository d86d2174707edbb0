#!/usr/bin/env bash
# Trains on one device: the entry point, as the reference's scripts/run_1p.sh; train_1p.sh does the work
# (folders, resuming, the success/fail line; see its --help). Arguments are train_1p.sh's, e.g.
#   scripts/run_1p.sh --data_root=/data/librispeech --device_id=0 --dtype=float32
#   scripts/run_1p.sh --config_file=configs/speech2text/jasper_tiny_nvgrad.py \
#     --data_root=data/mini_librispeech --max_steps=40
# Results: scripts/result/1p/<device_id>/jasper_log_folder (checkpoints in logs/), log
# scripts/result/1p/train_<device_id>.log. On Ascend, source the CANN set_env.sh first: its runtime
# variables belong to the installation and are not set here.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/launcher.sh
. "$repo/scripts/lib/launcher.sh" run_1p.sh
forward_to train_1p.sh "$@"

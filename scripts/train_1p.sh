#!/usr/bin/env bash
# Trains Jasper on one device (the worker behind run_1p.sh; train_8p.sh reuses it for one rank of an Ascend
# multi-device run). Layout, as in the reference's scripts/:
#   <result_dir>/<device_id>/                    working folder of the run (the Ascend runtime drops its
#                                                per-process files, kernel_meta/ etc., into the cwd)
#   <result_dir>/<device_id>/jasper_log_folder   run.py --logdir (--enable_logs: checkpoints under logs/)
#   <result_dir>/train_<device_id>.log           console output (appended when resuming)
# The last line of the console and of the log is "turing train success" or "turing train fail", from
# run.py's real exit status, which is also this script's exit status.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/launcher.sh
. "$repo/scripts/lib/launcher.sh" train_1p.sh train

usage() {
  usage_of "[DEVICE_ID] [options] [run.py overrides ...]" <<EOF
  --device_id=N       device to train on [\$DEVICE_ID or 0]; a bare number does the same
  --config_file=FILE  [configs/speech2text/jasper5x3_LibriSpeech_nvgrad_masks_1p.py]
  --data_root=DIR     corpus folder with the librivox-*.csv manifests, exported as LIBRISPEECH_ROOT and
                      JASPER_MINI_CORPUS [keep the environment's]
  --result_dir=DIR    [scripts/result/1p]
  --logdir=DIR        run.py logdir [<result_dir>/<device_id>/jasper_log_folder]
  --resume=auto|yes|no  auto: resume (--continue_learning) when the logdir holds a checkpoint [auto];
                      --continue_learning means yes
  --distributed       one rank of an Ascend multi-device run (train_8p.sh): needs RANK_SIZE, DEVICE_ID,
                      DEVICE_INDEX (and RANK_TABLE_FILE) set, runs with --use_horovod=True
  -h, --help          this text
Anything else starting with -- goes to run.py, e.g. --max_steps=100 --dtype=float32 --batch_size_per_gpu=16.
Paths in overrides should be absolute: run.py runs in <result_dir>/<device_id>/.

Off Ascend, one device means no Horovod: --use_horovod=False --num_gpus=1 come first (overrides may still
change them). On a GPU machine CUDA_VISIBLE_DEVICES defaults to the device id. The 5x3 configs train in
"mixed" precision; on a CPU pass --dtype=float32 or --dtype=bfloat16.
Python: \$JASPER_VENV/bin/python when JASPER_VENV is set, else the environment of scripts/setup_env.sh.
EOF
}

config="$repo/configs/speech2text/jasper5x3_LibriSpeech_nvgrad_masks_1p.py"
device_id="${DEVICE_ID:-0}"
device_given=""
result_dir="$repo/scripts/result/1p"
logdir=""
data_root=""
resume=auto
distributed=0
overrides=()
# The command line: parse_arguments (scripts/lib/launcher.sh) with the --NAME=VALUE options and own cases.
value_options=(config_file:config data_root result_dir logdir device_id resume)
own_argument() {
  case "$1" in
    --device_id=*) device_id="${1#*=}"; device_given=1 ;;
    --continue_learning) resume=yes ;;
    --distributed) distributed=1 ;;
    --mode|--mode=*) fail "--mode is fixed to train here (evaluate with run_eval.sh)" ;;
    *) [[ "$1" =~ ^[0-9]+$ ]] || return 1; device_id="$1"; device_given=1 ;;
  esac
}
parse_arguments "$@"
[[ "$device_id" =~ ^[0-9]+$ ]] || fail "device id must be a non-negative integer, got '$device_id'"
case "$resume" in auto|yes|no) ;; *) fail "--resume must be auto, yes or no, got '$resume'" ;; esac
[ -f "$config" ] || fail "config file not found: $config"
config="$(absolute "$config")"
result_dir="$(absolute "$result_dir")"
export_data_root "$data_root"
need_python

base_overrides=()
if [ "$distributed" = 1 ]; then
  # The launcher (run_8p.sh) set this rank's environment; the device comes from there.
  for var in RANK_SIZE DEVICE_ID DEVICE_INDEX; do
    [ -n "${!var:-}" ] || fail "--distributed needs $var in the environment (start ranks with run_8p.sh)"
  done
  if [ -n "$device_given" ] && [ "$device_id" != "$DEVICE_ID" ]; then
    fail "--device_id=$device_id contradicts DEVICE_ID=$DEVICE_ID"
  fi
  device_id="$DEVICE_ID"
  me="train_8p.sh (rank $DEVICE_INDEX)"
  backend=npu
  base_overrides=(--use_horovod=True)
else
  use_one_device "$device_id"
  if [ "$backend" != npu ]; then
    # No Horovod and a single tower on one CPU/GPU, whatever the config says (an 8p config has both set).
    base_overrides=(--use_horovod=False --num_gpus=1)
  fi
fi

device_dir="$result_dir/$device_id"
logdir="$(absolute "${logdir:-$device_dir/jasper_log_folder}")"
log="$result_dir/train_$device_id.log"
mkdir -p "$device_dir"

decide_resume "$logdir"
resume_flag=()
if [ "$resume" = yes ]; then
  resume_flag=(--continue_learning)
fi

cmd=("$py" "$repo/run.py" "--config_file=$config" --mode=train "--logdir=$logdir" --enable_logs
     "${resume_flag[@]}" "${base_overrides[@]}" "${overrides[@]}")
start_log "$resume" "device $device_id ($backend), working folder $device_dir" "$(printf '%q ' "${cmd[@]}")"
cd "$device_dir"
run_logged run.py "${cmd[@]}"

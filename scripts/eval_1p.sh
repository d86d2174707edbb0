#!/usr/bin/env bash
# Evaluates the latest checkpoint of a run_1p.sh / run_8p.sh training on the dev set (run.py --mode=eval on
# one device), the worker behind run_eval.sh. Finds, as the reference does, scripts/result/1p if it exists,
# else scripts/result/8p, and in it the logdir <device_id>/jasper_log_folder (1p and the reference's 8p
# layout) or jasper_log_folder (run_8p.sh's rank-0 logdir). The config is the one that trained the
# checkpoint, read from the run's cmd-args_*.log, and so is its --dtype. Console tee'd to
# <result_dir>/eval_<device_id>.log; the last line is "turing eval success" or "turing eval fail" from
# run.py's real exit status, which is also this script's.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/launcher.sh
. "$repo/scripts/lib/launcher.sh" eval_1p.sh eval

usage() {
  usage_of "[DEVICE_ID] [options] [run.py overrides ...]" <<EOF
  --device_id=N       device to evaluate on, and whose training folder to use [\$DEVICE_ID or 0]; a bare
                      number does the same
  --result_dir=DIR    training results [scripts/result/1p if it exists, else scripts/result/8p]
  --logdir=DIR        the training logdir [<result_dir>/<device_id>/jasper_log_folder if it exists, else
                      <result_dir>/jasper_log_folder]
  --config_file=FILE  [the config recorded by the training run, else
                      configs/speech2text/jasper5x3_LibriSpeech_nvgrad_masks_1p.py]
  --data_root=DIR     corpus folder, exported as LIBRISPEECH_ROOT and JASPER_MINI_CORPUS [keep the
                      environment's]
  -h, --help          this text
Anything else starting with -- goes to run.py (e.g. --dtype=float32 --eval_batch_size_per_gpu=8).
Evaluation is one process: --use_horovod=False --num_gpus=1 come first.
Python: \$JASPER_VENV/bin/python when JASPER_VENV is set, else the environment of scripts/setup_env.sh.
EOF
}

device_id="${DEVICE_ID:-0}"
result_dir="" logdir="" config=""  # unless given, found from the training run (below)
data_root=""
overrides=()
dtype_given=0
# The command line: parse_arguments (scripts/lib/launcher.sh) with the --NAME=VALUE options and own cases.
value_options=(device_id result_dir logdir config_file:config data_root)
own_argument() {
  case "$1" in
    --mode|--mode=*) fail "--mode is fixed to eval here" ;;
    --dtype=*) dtype_given=1; overrides+=("$1") ;;
    *) [[ "$1" =~ ^[0-9]+$ ]] || return 1; device_id="$1" ;;
  esac
}
parse_arguments "$@"
[[ "$device_id" =~ ^[0-9]+$ ]] || fail "device id must be a non-negative integer, got '$device_id'"

if [ -z "$result_dir" ]; then
  for candidate in "$repo/scripts/result/1p" "$repo/scripts/result/8p"; do
    if [ -d "$candidate" ]; then result_dir="$candidate"; break; fi
  done
  [ -n "$result_dir" ] || fail "no training results in scripts/result/1p or scripts/result/8p: train with" \
    "run_1p.sh or run_8p.sh first, or pass --result_dir"
fi
result_dir="$(absolute "$result_dir")"
[ -d "$result_dir" ] || fail "result folder not found: $result_dir"
if [ -z "$logdir" ]; then
  if [ -d "$result_dir/$device_id/jasper_log_folder" ]; then
    logdir="$result_dir/$device_id/jasper_log_folder"
  else
    logdir="$result_dir/jasper_log_folder"
  fi
fi
logdir="$(absolute "$logdir")"
# Training runs with --enable_logs, which keeps the checkpoints in <logdir>/logs; a plain logdir works too.
if [ -f "$logdir/logs/checkpoint" ]; then
  enable_logs=(--enable_logs)
elif [ -f "$logdir/checkpoint" ]; then
  enable_logs=()
else
  fail "no checkpoint to evaluate: neither $logdir/logs nor $logdir holds one (train with run_1p.sh or" \
    "run_8p.sh first, or pass --result_dir / --logdir)"
fi

# The training command line, as run.py --enable_logs recorded it (newest training run first).
train_args=()
shopt -s nullglob
records=("$logdir"/cmd-args_*.log)  # named by timestamp: sorted oldest first
shopt -u nullglob
for ((i = ${#records[@]} - 1; i >= 0; i--)); do
  if grep -qE -- '--mode=(train|train_eval)( |$)' "${records[$i]}"; then
    # The record is one line without a final newline, on which read reports end of file.
    read -r -a train_args <"${records[$i]}" || true
    break
  fi
done
if [ -z "$config" ]; then
  for arg in "${train_args[@]}"; do
    case "$arg" in --config_file=*) config="${arg#*=}" ;; esac
  done
  case "$config" in ""|/*) ;; *) config="$repo/$config" ;; esac
  if [ -z "$config" ] || [ ! -f "$config" ]; then
    config="$repo/configs/speech2text/jasper5x3_LibriSpeech_nvgrad_masks_1p.py"
  fi
fi
[ -f "$config" ] || fail "config file not found: $config"
config="$(absolute "$config")"
replayed=()
if [ "$dtype_given" = 0 ]; then
  # The model is built in the precision it was trained in (a 5x3 config trained with --dtype=float32 on a
  # CPU would otherwise be evaluated in its default "mixed" float16).
  for arg in "${train_args[@]}"; do
    case "$arg" in --dtype=*) replayed=("$arg") ;; esac
  done
fi
export_data_root "$data_root"

need_python
use_one_device "$device_id"

device_dir="$result_dir/$device_id"
mkdir -p "$device_dir"
log="$result_dir/eval_$device_id.log"
cmd=("$py" "$repo/run.py" "--config_file=$config" --mode=eval "--logdir=$logdir" "${enable_logs[@]}"
     --use_horovod=False --num_gpus=1 "${replayed[@]}" "${overrides[@]}")
start_log no "device $device_id ($backend), checkpoint folder $logdir" "$(printf '%q ' "${cmd[@]}")"
cd "$device_dir"
run_logged run.py "${cmd[@]}"

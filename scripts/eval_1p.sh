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
me="eval_1p.sh"

usage() {
  cat <<EOF
Usage: scripts/eval_1p.sh [DEVICE_ID] [options] [run.py overrides ...]

Options (defaults in brackets):
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

log=""
fail_status=1
fail() {
  echo "$me: $*" >&2
  [ -n "$log" ] && echo "$me: $*" >>"$log"
  echo "turing eval fail"
  [ -n "$log" ] && echo "turing eval fail" >>"$log"
  exit "$fail_status"
}
absolute() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }

device_id="${DEVICE_ID:-0}"
result_dir=""
logdir=""
config=""
data_root=""
overrides=()
dtype_given=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --device_id=*) device_id="${1#*=}" ;;
    --result_dir=*) result_dir="${1#*=}" ;;
    --logdir=*) logdir="${1#*=}" ;;
    --config_file=*) config="${1#*=}" ;;
    --data_root=*) data_root="${1#*=}" ;;
    --mode|--mode=*) fail "--mode is fixed to eval here" ;;
    --device_id|--result_dir|--logdir|--config_file|--data_root) fail "write $1=VALUE" ;;
    --dtype=*) dtype_given=1; overrides+=("$1") ;;
    --*) overrides+=("$1") ;;
    *)
      [[ "$1" =~ ^[0-9]+$ ]] || { usage >&2; fail "unexpected argument '$1'"; }
      device_id="$1" ;;
  esac
  shift
done
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
if [ -n "$data_root" ]; then
  [ -d "$data_root" ] || fail "data root is not a directory: $data_root"
  export LIBRISPEECH_ROOT JASPER_MINI_CORPUS
  LIBRISPEECH_ROOT="$(absolute "$data_root")"
  JASPER_MINI_CORPUS="$LIBRISPEECH_ROOT"
fi

if [ -n "${JASPER_VENV:-}" ]; then
  venv="$JASPER_VENV"
else
  venv="$(bash "$repo/scripts/setup_env.sh")" || fail "scripts/setup_env.sh failed"
fi
py="$venv/bin/python"
[ -x "$py" ] || fail "no Python interpreter at $py (JASPER_VENV=${JASPER_VENV:-unset})"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
backend="$(cd "$repo" && "$py" -c \
  'from open_seq2seq.distributed.backend import select_backend; print(select_backend())')" \
  || fail "cannot determine the backend (see the error above)"
if [ "$backend" = npu ]; then
  export DEVICE_ID="$device_id" ASCEND_DEVICE_ID="$device_id" DEVICE_INDEX=0 RANK_SIZE=1 RANK_ID=0
  export JOB_ID="${JOB_ID:-9999001}"
elif [ "$backend" = gpu ]; then
  export CUDA_VISIBLE_DEVICES="${CUDA_VISIBLE_DEVICES-$device_id}"
fi

device_dir="$result_dir/$device_id"
mkdir -p "$device_dir"
log="$result_dir/eval_$device_id.log"
cmd=("$py" "$repo/run.py" "--config_file=$config" --mode=eval "--logdir=$logdir" "${enable_logs[@]}"
     --use_horovod=False --num_gpus=1 "${replayed[@]}" "${overrides[@]}")
{
  echo "== $(date '+%F %T') $me: device $device_id ($backend), checkpoint folder $logdir"
  echo "== $(printf '%q ' "${cmd[@]}")"
} | tee "$log"
cd "$device_dir"
set +e
"${cmd[@]}" 2>&1 | tee -a "$log"
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
  fail_status=$status
  fail "run.py exited with status $status; log: $log"
fi
echo "turing eval success" | tee -a "$log"

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
me="train_1p.sh"

usage() {
  cat <<EOF
Usage: scripts/train_1p.sh [DEVICE_ID] [options] [run.py overrides ...]

Options (defaults in brackets):
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

log=""
fail_status=1
fail() {
  # CI greps the last line, so every failure ends with it, in the log too once the log is known.
  echo "$me: $*" >&2
  [ -n "$log" ] && echo "$me: $*" >>"$log"
  echo "turing train fail"
  [ -n "$log" ] && echo "turing train fail" >>"$log"
  exit "$fail_status"
}
absolute() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }

config="$repo/configs/speech2text/jasper5x3_LibriSpeech_nvgrad_masks_1p.py"
device_id="${DEVICE_ID:-0}"
device_given=""
result_dir="$repo/scripts/result/1p"
logdir=""
data_root=""
resume=auto
distributed=0
overrides=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --device_id=*) device_id="${1#*=}"; device_given=1 ;;
    --config_file=*) config="${1#*=}" ;;
    --data_root=*) data_root="${1#*=}" ;;
    --result_dir=*) result_dir="${1#*=}" ;;
    --logdir=*) logdir="${1#*=}" ;;
    --resume=*) resume="${1#*=}" ;;
    --continue_learning) resume=yes ;;
    --distributed) distributed=1 ;;
    --mode|--mode=*) fail "--mode is fixed to train here (evaluate with run_eval.sh)" ;;
    --config_file|--data_root|--result_dir|--logdir|--device_id|--resume) fail "write $1=VALUE" ;;
    --*) overrides+=("$1") ;;
    *)
      [[ "$1" =~ ^[0-9]+$ ]] || { usage >&2; fail "unexpected argument '$1'"; }
      device_id="$1"; device_given=1 ;;
  esac
  shift
done
[[ "$device_id" =~ ^[0-9]+$ ]] || fail "device id must be a non-negative integer, got '$device_id'"
case "$resume" in auto|yes|no) ;; *) fail "--resume must be auto, yes or no, got '$resume'" ;; esac
[ -f "$config" ] || fail "config file not found: $config"
config="$(absolute "$config")"
result_dir="$(absolute "$result_dir")"
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
  # select_backend() says "npu" when npu_bridge imports (JASPER_BACKEND may force a choice).
  backend="$(cd "$repo" && "$py" -c \
    'from open_seq2seq.distributed.backend import select_backend; print(select_backend())')" \
    || fail "cannot determine the backend (see the error above)"
  if [ "$backend" = npu ]; then
    # The Ascend runtime picks the device from these; one process is rank 0 of 1 (the reference set
    # DEVICE_INDEX to the device id, which is only a rank when it is 0).
    export DEVICE_ID="$device_id" ASCEND_DEVICE_ID="$device_id" DEVICE_INDEX=0 RANK_SIZE=1 RANK_ID=0
    export JOB_ID="${JOB_ID:-9999001}"
  else
    # No Horovod and a single tower on one CPU/GPU, whatever the config says (an 8p config has both set).
    base_overrides=(--use_horovod=False --num_gpus=1)
    if [ "$backend" = gpu ]; then
      export CUDA_VISIBLE_DEVICES="${CUDA_VISIBLE_DEVICES-$device_id}"
    fi
  fi
fi

device_dir="$result_dir/$device_id"
logdir="$(absolute "${logdir:-$device_dir/jasper_log_folder}")"
log="$result_dir/train_$device_id.log"
mkdir -p "$device_dir"

# run.py --enable_logs keeps checkpoints in <logdir>/logs; a checkpoint there is something to resume.
resume_flag=()
if [ "$resume" = yes ] || { [ "$resume" = auto ] && [ -f "$logdir/logs/checkpoint" ]; }; then
  resume_flag=(--continue_learning)
elif [ "$resume" = auto ] && [ -d "$logdir" ] && [ -n "$(ls -A "$logdir")" ]; then
  fail "$logdir holds no checkpoint to resume (a run that failed before its first checkpoint?); remove it or" \
    "choose another --result_dir"
fi

cmd=("$py" "$repo/run.py" "--config_file=$config" --mode=train "--logdir=$logdir" --enable_logs
     "${resume_flag[@]}" "${base_overrides[@]}" "${overrides[@]}")
if [ "${#resume_flag[@]}" -gt 0 ]; then
  tee_mode=(-a)
else
  tee_mode=()
fi
{
  echo "== $(date '+%F %T') $me: device $device_id ($backend), working folder $device_dir"
  echo "== $(printf '%q ' "${cmd[@]}")"
} | tee "${tee_mode[@]}" "$log"

cd "$device_dir"
set +e
"${cmd[@]}" 2>&1 | tee -a "$log"
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
  fail_status=$status
  fail "run.py exited with status $status; log: $log"
fi
echo "turing train success" | tee -a "$log"

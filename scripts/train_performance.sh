#!/usr/bin/env bash
# Training throughput, reported like the reference CI's test/train_performance_{1p,8p}.sh, without editing
# any source: N training steps (default 100) of run.py --benchmark --bench_steps=N, the toolkit's short-run
# mode (it drops num_epochs, sets max_steps=N, prints the loss every step and writes no checkpoint, so it
# works for the epoch-based 5x3 configs, whose max_steps cannot be overridden), on one device through
# train_1p.sh or, with --rank_table, on every rank through run_8p.sh. The training folder is a throwaway
# (<output_dir>/run.XXXXXX, removed afterwards unless --keep_run). scripts/parse_train_log.py then reads
# the log and prints
#   Final Performance images/sec : <FPS of the last global_step: line x number of ranks>
#   E2E Training Duration sec : <wall time of the whole run>
#   ActualLoss : <loss of the last line>      TrainingTime (ms/step) : <batch x ranks x 1000 / FPS>
# and writes <output_dir>/<CaseName>.log (Network, RankSize, BatchSize, DeviceType, CaseName, ActualFPS,
# ActualLoss, TrainingTime, E2ETrainingTime) and <output_dir>/train_<CaseName>_loss.txt, CaseName being
# <Network>_bs<batch>_<ranks>p_perf. The training log is kept as <output_dir>/train.log.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/launcher.sh
. "$repo/scripts/lib/launcher.sh" train_performance.sh  # no job: its worker prints "turing train ..."

usage() {
  usage_of "[options] [run.py overrides ...]" <<EOF
  --steps=N           training steps [100]
  --rank_table=FILE   train on every rank of this HCCL rank table through run_8p.sh [one device through
                      train_1p.sh]
  --config_file=FILE  [configs/speech2text/jasper5x3_LibriSpeech_nvgrad_masks_1p.py, or ..._8p.py with
                      --rank_table]
  --data_root=DIR     corpus folder (--data_path=DIR, the reference's name, works too) [keep the
                      environment's LIBRISPEECH_ROOT / JASPER_MINI_CORPUS]
  --device_id=N       the device of a one-device run [0]
  --output_dir=DIR    where the summary files go [scripts/result/perf]
  --network=NAME      Network in the summary [Jasper_ID0020_for_TensorFlow]
  --keep_run          keep the training folder
  -h, --help          this text
Anything else starting with -- goes to run.py, e.g. --dtype=float32 --batch_size_per_gpu=16.
Python: \$JASPER_VENV/bin/python when JASPER_VENV is set, else the environment of scripts/setup_env.sh.
EOF
}

steps=100
rank_table=""
config=""
data_root=""
device_id=0
output_dir="$repo/scripts/result/perf"
network="Jasper_ID0020_for_TensorFlow"
keep_run=0
overrides=()
# The command line: parse_arguments (scripts/lib/launcher.sh) with the --NAME=VALUE options and own cases.
value_options=(steps rank_table config_file:config data_root data_path:data_root device_id output_dir network)
own_argument() {
  case "$1" in
    --keep_run) keep_run=1 ;;
    --max_steps=*|--benchmark|--bench_steps=*|--result_dir=*|--logdir=*|--mode=*)
      fail "$1 is set by this script (use --steps / --output_dir)" ;;
    *) return 1 ;;
  esac
}
parse_arguments "$@"
[[ "$steps" =~ ^[1-9][0-9]*$ ]] || fail "--steps must be a positive integer, got '$steps'"
[[ "$device_id" =~ ^[0-9]+$ ]] || fail "--device_id must be a non-negative integer, got '$device_id'"

find_python
export JASPER_VENV="$venv"  # the training scripts reuse it
[ -x "$py" ] || fail "no Python interpreter at $py"

output_dir="$(absolute "$output_dir")"
mkdir -p "$output_dir"
work="$(mktemp -d "$output_dir/run.XXXXXX")"
cleanup() { [ "$keep_run" = 1 ] || rm -rf "$work"; }
trap cleanup EXIT

common=(--benchmark "--bench_steps=$steps" "${overrides[@]}")
[ -n "$config" ] && common=("--config_file=$config" "${common[@]}")
[ -n "$data_root" ] && common=("--data_root=$data_root" "${common[@]}")
start=$(date +%s)
set +e
if [ -n "$rank_table" ]; then
  bash "$repo/scripts/run_8p.sh" "--rank_table=$rank_table" "--result_dir=$work" "${common[@]}"
else
  bash "$repo/scripts/train_1p.sh" "--device_id=$device_id" "--result_dir=$work" "${common[@]}"
fi
status=$?
set -e
end=$(date +%s)

if [ -n "$rank_table" ]; then
  # run_8p.sh validated the table; horovodrun leaves one train.log, Ascend one log per device (rank 0's).
  read -r rank_size rank0_device < <(cd "$repo" && "$py" -c '
import sys
from open_seq2seq.distributed.rank_table import load_rank_table
table = load_rank_table(sys.argv[1])
print(table.world_size, table.location_of(0).device_id)' "$rank_table") || fail "cannot read $rank_table"
  if [ -f "$work/train.log" ]; then
    run_log="$work/train.log"
  else
    run_log="$work/train_$rank0_device.log"
  fi
else
  rank_size=1
  run_log="$work/train_$device_id.log"
fi
if [ -f "$run_log" ]; then
  cp "$run_log" "$output_dir/train.log"
fi
if [ "$status" -ne 0 ]; then
  fail_status=$status
  fail "training failed (exit status $status), no performance figures; log: $output_dir/train.log"
fi
[ -f "$run_log" ] || fail "training left no log at $run_log"

"$py" "$repo/scripts/parse_train_log.py" \
  --log "$output_dir/train.log" --rank_size "$rank_size" --e2e_seconds "$((end - start))" \
  --network "$network" --output_dir "$output_dir"

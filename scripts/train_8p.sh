#!/usr/bin/env bash
# One rank of an Ascend multi-device run. run_8p.sh starts it once per device of the rank table, in the
# background, with that rank's environment (open_seq2seq.distributed.npu.environment_for_rank: RANK_SIZE,
# RANK_ID, DEVICE_ID, DEVICE_INDEX, ASCEND_DEVICE_ID, RANK_TABLE_FILE, JOB_ID); use run_8p.sh rather than
# this script. It is train_1p.sh in --distributed mode with the 8p defaults:
#   <result_dir>/<DEVICE_ID>/                 the rank's working folder (the Ascend runtime's files)
#   <result_dir>/jasper_log_folder            run.py --logdir of EVERY rank: rank 0 writes it (checkpoints in
#                                             logs/), and one path means all ranks agree on resuming
#   <result_dir>/train_<DEVICE_ID>.log        the rank's console output, ending in turing train success|fail
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
  cat <<EOF
Usage: scripts/train_8p.sh [options] [run.py overrides ...]   (normally started by scripts/run_8p.sh)

Options (defaults in brackets); everything else is passed to train_1p.sh / run.py:
  --config_file=FILE  [configs/speech2text/jasper5x3_LibriSpeech_nvgrad_masks_8p.py]
  --result_dir=DIR    [scripts/result/8p]
  --logdir=DIR        [<result_dir>/jasper_log_folder]
  --resume=auto|yes|no  run_8p.sh decides once for all ranks and passes yes or no
  --data_root=DIR     exported as LIBRISPEECH_ROOT and JASPER_MINI_CORPUS
  -h, --help          this text
Needs RANK_SIZE, DEVICE_ID, DEVICE_INDEX and RANK_TABLE_FILE in the environment.
EOF
}

config="$repo/configs/speech2text/jasper5x3_LibriSpeech_nvgrad_masks_8p.py"
result_dir="$repo/scripts/result/8p"
logdir=""
passed=()
for arg in "$@"; do
  case "$arg" in
    -h|--help) usage; exit 0 ;;
    --config_file=*) config="${arg#*=}" ;;
    --result_dir=*) result_dir="${arg#*=}" ;;
    --logdir=*) logdir="${arg#*=}" ;;
    *) passed+=("$arg") ;;
  esac
done
exec bash "$repo/scripts/train_1p.sh" --distributed "--config_file=$config" "--result_dir=$result_dir" \
  "--logdir=${logdir:-$result_dir/jasper_log_folder}" "${passed[@]}"

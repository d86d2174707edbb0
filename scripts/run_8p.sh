#!/usr/bin/env bash
# Multi-device training from an HCCL rank table (default scripts/8p.json: one server, 8 devices).
#
# The table is validated first (open_seq2seq.distributed.rank_table); a malformed one stops here with the
# RankTableError naming the bad field. Then, by backend (open_seq2seq.distributed.backend.select_backend):
#
# Ascend (npu_bridge imports): one process per device of THIS server, as the reference does: train_8p.sh in
#   the background with the rank's environment from environment_for_rank (RANK_SIZE, RANK_ID, DEVICE_ID,
#   DEVICE_INDEX, ASCEND_DEVICE_ID, RANK_TABLE_FILE, JOB_ID), working folder <result_dir>/<device_id>/, log
#   <result_dir>/train_<device_id>.log. Waits for all, reports each rank, fails if any failed. With several
#   servers, run this script on each (with the same table); --server_id says which server this is when
#   none of the table's addresses is found on this machine. Source the CANN set_env.sh first: the runtime
#   variables (ASCEND_OPP_PATH, ...) belong to the installation and are not set here.
# CPU/GPU: ONE horovodrun command starts every rank of the table (-np <ranks> -H <host:slots,...>; --gloo on
#   CPU, on GPU Horovod picks its controller and NCCL), console tee'd to <result_dir>/train.log. A table
#   with several servers becomes several horovodrun hosts: they need passwordless ssh from this machine,
#   this repository and the Python environment at the same paths, and the corpus at the same path
#   (horovodrun forwards this shell's environment and working directory to them).
#
# Every rank runs run.py --mode=train --use_horovod=True --enable_logs with --logdir <result_dir>/
# jasper_log_folder; rank 0 writes it (checkpoints in logs/). --continue_learning is added when that holds a
# checkpoint, decided once here so all ranks agree. Ends with "turing train success" or "turing train fail"
# (the real exit status, which is also this script's).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/launcher.sh
. "$repo/scripts/lib/launcher.sh" run_8p.sh train

usage() {
  usage_of "[options] [run.py overrides ...]" <<EOF
  --rank_table=FILE   HCCL rank table, v1.0 layout [scripts/8p.json]
  --config_file=FILE  [configs/speech2text/jasper5x3_LibriSpeech_nvgrad_masks_8p.py]
  --data_root=DIR     corpus folder with the librivox-*.csv manifests, exported as LIBRISPEECH_ROOT and
                      JASPER_MINI_CORPUS [keep the environment's]
  --result_dir=DIR    [scripts/result/8p]
  --server_id=IP      Ascend with a multi-server table: the server this machine is [the table's address
                      found on this machine]
  --dry_run           print the commands and environments that would be launched, run nothing
  -h, --help          this text
Anything else starting with -- goes to run.py, e.g. --max_steps=100 --dtype=float32. Paths in overrides
should be absolute. JOB_ID (Ascend) defaults to 9999001. Python: \$JASPER_VENV/bin/python when JASPER_VENV
is set, else the environment of scripts/setup_env.sh.
EOF
}

# Shell words as a user would type them (printf %q would also escape the commas of "-H a:2,b:2").
quoted() {
  local arg words=()
  for arg in "$@"; do
    if [[ -n "$arg" && "$arg" != *[^A-Za-z0-9_./:=,@%+-]* ]]; then
      words+=("$arg")
    else
      words+=("'${arg//\'/\'\\\'\'}'")
    fi
  done
  echo "${words[*]}"
}

rank_table="$repo/scripts/8p.json"
config="$repo/configs/speech2text/jasper5x3_LibriSpeech_nvgrad_masks_8p.py"
result_dir="$repo/scripts/result/8p"
data_root=""
server_id=""
dry_run=0
resume=auto
overrides=()
# The command line: parse_arguments (scripts/lib/launcher.sh) with the --NAME=VALUE options and own cases.
value_options=(rank_table config_file:config data_root result_dir server_id)
own_argument() {
  case "$1" in
    --dry_run) dry_run=1 ;;
    --continue_learning) resume=yes ;;
    --mode|--mode=*|--logdir|--logdir=*) fail "$1 is set by this script (use --result_dir for the logdir)" ;;
    *) return 1 ;;
  esac
}
parse_arguments "$@"
[ -f "$config" ] || fail "config file not found: $config"
config="$(absolute "$config")"
rank_table="$(absolute "$rank_table")"
result_dir="$(absolute "$result_dir")"
export_data_root "$data_root"
export JOB_ID="${JOB_ID:-9999001}"

need_python
export JASPER_VENV="$venv"  # the ranks' train_8p.sh reuse it instead of each running setup_env.sh

# The launch plan (open_seq2seq/distributed/launch_plan.py), one tab-separated record a line: world_size,
# backend, then "hosts" (horovodrun) or one "rank <rank> <device_id> <VAR=value>..." per rank of this server
# (Ascend). Errors name the bad field.
plan="$(cd "$repo" && "$py" -m open_seq2seq.distributed.launch_plan "$rank_table" "$server_id" "$JOB_ID")" ||
  { fail_status=2; fail "cannot launch from rank table $rank_table (see the error above)"; }

world_size=""; backend=""; hosts=""
ranks=(); devices=(); environments=()
while IFS=$'\t' read -r -a record; do
  case "${record[0]}" in
    world_size) world_size="${record[1]}" ;;
    backend) backend="${record[1]}" ;;
    hosts) hosts="${record[1]}" ;;
    rank)
      ranks+=("${record[1]}"); devices+=("${record[2]}")
      environments+=("$(IFS=$'\t'; echo "${record[*]:3}")") ;;
  esac
done <<<"$plan"

logdir="$result_dir/jasper_log_folder"
# Decided once for all ranks (each rank deciding alone could race rank 0 creating the folder).
decide_resume "$logdir"
resume_flag=()
[ "$resume" = yes ] && resume_flag=(--continue_learning)

if [ "$backend" != npu ]; then
  cmd=("$venv/bin/horovodrun" -np "$world_size" -H "$hosts")
  # Gloo collectives on CPU; on GPU horovodrun picks the controller and NCCL does the collectives.
  [ "$backend" = cpu ] && cmd+=(--gloo)
  cmd+=("$py" "$repo/run.py" "--config_file=$config" --mode=train --use_horovod=True "--logdir=$logdir"
        --enable_logs "${resume_flag[@]}" "${overrides[@]}")
  if [ "$dry_run" = 1 ]; then
    echo "# backend $backend: $world_size ranks on $hosts, one horovodrun command"
    for var in LIBRISPEECH_ROOT JASPER_MINI_CORPUS PYTHONPATH; do
      [ -n "${!var:-}" ] && echo "export $(printf '%q' "$var=${!var}")"
    done
    echo "cd $(printf '%q' "$repo")"
    quoted "${cmd[@]}"
    echo "# console tee'd to $result_dir/train.log"
    exit 0
  fi
  mkdir -p "$result_dir"
  log="$result_dir/train.log"
  start_log "$resume" "$world_size ranks ($backend) on $hosts" "$(quoted "${cmd[@]}")"
  cd "$repo"
  run_logged horovodrun "${cmd[@]}"
  exit 0
fi

# Ascend: one train_8p.sh per local rank.
[ "${#ranks[@]}" -gt 0 ] || fail "the table places no rank on server ${server_id:-?}"
rank_command() {  # rank_command <index>: fills the array "rank_cmd"
  local -a environment
  IFS=$'\t' read -r -a environment <<<"${environments[$1]}"
  rank_cmd=(env "${environment[@]}" bash "$repo/scripts/train_8p.sh" "--config_file=$config"
            "--result_dir=$result_dir" "--logdir=$logdir" "--resume=$resume" "${overrides[@]}")
}
if [ "$dry_run" = 1 ]; then
  echo "# backend npu: ${#ranks[@]} of $world_size ranks on this server, one train_8p.sh each"
  for var in LIBRISPEECH_ROOT JASPER_MINI_CORPUS PYTHONPATH; do
    [ -n "${!var:-}" ] && echo "export $(printf '%q' "$var=${!var}")"
  done
  for i in "${!ranks[@]}"; do
    rank_command "$i"
    echo "# rank ${ranks[$i]} (device ${devices[$i]}), log $result_dir/train_${devices[$i]}.log"
    quoted "${rank_cmd[@]}"
  done
  exit 0
fi

mkdir -p "$result_dir"
pids=()
# Each rank in its own process group, so an interrupt stops the ranks' Python processes too (a rank left
# running keeps its device).
stop_ranks() {
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
}
trap 'stop_ranks; fail_status=130; fail "interrupted"' INT TERM
echo "== $(date '+%F %T') $me: ${#ranks[@]} of $world_size ranks on this server; logs $result_dir/train_<device>.log"
for i in "${!ranks[@]}"; do
  rank_command "$i"
  if [ "$i" = 0 ]; then
    setsid -w "${rank_cmd[@]}" &  # the first local rank shows its console; every rank has its log
  else
    setsid -w "${rank_cmd[@]}" >/dev/null 2>&1 &
  fi
  pids+=("$!")
done
failed=0
report=()
for i in "${!ranks[@]}"; do
  if wait "${pids[$i]}"; then
    report+=("rank ${ranks[$i]} (device ${devices[$i]}): success")
  else
    status=$?
    failed=$((failed + 1))
    report+=("rank ${ranks[$i]} (device ${devices[$i]}): FAILED (exit status $status), log $result_dir/train_${devices[$i]}.log")
  fi
done
trap - INT TERM
printf '%s\n' "${report[@]}"
if [ "$failed" -gt 0 ]; then
  fail "$failed of ${#ranks[@]} ranks failed"
fi
echo "turing train success"

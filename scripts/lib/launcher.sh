# shellcheck shell=bash
# What the launchers of scripts/ (train_1p.sh, eval_1p.sh, run_8p.sh, train_performance.sh, run_1p.sh,
# run_eval.sh) do alike, in one copy: their messages, the last line CI greps and the way they find Python
# must not drift apart. Sourced, never run, after `set -euo pipefail` and repo=<the clone>, by a path from
# the script's own location (so any cwd works):
#   . "$repo/scripts/lib/launcher.sh" ME [JOB]
# ME: the script's name, the prefix of its messages. JOB: train or eval, the word of the last line,
# "turing JOB success" or "turing JOB fail"; none for a script whose worker prints that line.
# Nothing here runs on sourcing but these assignments: the log is unknown until the script names it, and a
# failure exits 1 unless the script passes on a command's own status.
me="$1"
job="${2:-}"
log=""
fail_status=1

# usage_of SYNOPSIS: a launcher's --help: "Usage: scripts/$me SYNOPSIS", then the options, read from stdin,
# under the heading they all have.
usage_of() {
  echo "Usage: scripts/$me $1"
  echo
  echo "Options (defaults in brackets):"
  cat
}

# fail MESSAGE...: "$me: MESSAGE" on stderr, then the last line "turing $job fail" on stdout (CI greps it),
# both appended to the log once there is one; exits with $fail_status.
fail() {
  echo "$me: $*" >&2
  [ -n "$log" ] && echo "$me: $*" >>"$log"
  [ -n "$job" ] && echo "turing $job fail"
  [ -n "$log" ] && [ -n "$job" ] && echo "turing $job fail" >>"$log"
  exit "$fail_status"
}

# The path as given when absolute, else from the cwd the user called the script in (before any cd).
absolute() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }

# parse_arguments "$@": the command line, one argument at a time:
#   - the script's own cases first: its function own_argument ARG returns 1 when ARG is not one of them;
#   - -h/--help: usage (the script's function) and exit 0;
#   - --NAME=VALUE for a NAME of the array value_options (entries "NAME", or "NAME:VARIABLE" when the variable
#     has another name) sets that variable; a bare --NAME is an error, since its value, as a separate
#     argument, would otherwise be taken for something else;
#   - any other --option is a run.py override, appended to the array overrides;
#   - anything else: usage on stderr, then fail.
parse_arguments() {
  local arg option
  for arg in "$@"; do
    own_argument "$arg" && continue
    case "$arg" in -h|--help) usage; exit 0 ;; esac
    for option in "${value_options[@]}"; do
      case "$arg" in
        "--${option%%:*}="*) printf -v "${option#*:}" '%s' "${arg#*=}"; continue 2 ;;
        "--${option%%:*}") fail "write $arg=VALUE" ;;
      esac
    done
    case "$arg" in
      --*) overrides+=("$arg") ;;
      *) usage >&2; fail "unexpected argument '$arg'" ;;
    esac
  done
}

# export_data_root DIR: --data_root, the corpus folder with the librivox-*.csv manifests, exported under both
# names the configs read it from; an empty DIR keeps the environment's.
export_data_root() {
  [ -n "$1" ] || return 0
  [ -d "$1" ] || fail "data root is not a directory: $1"
  export LIBRISPEECH_ROOT JASPER_MINI_CORPUS
  LIBRISPEECH_ROOT="$(absolute "$1")"
  JASPER_MINI_CORPUS="$LIBRISPEECH_ROOT"
}

# find_python: sets venv and py, $JASPER_VENV when it is set (a launcher starting others passes its own on),
# else the environment scripts/setup_env.sh prints (it installs it the first time).
find_python() {
  if [ -n "${JASPER_VENV:-}" ]; then
    venv="$JASPER_VENV"
  else
    venv="$(bash "$repo/scripts/setup_env.sh")" || fail "scripts/setup_env.sh failed"
  fi
  py="$venv/bin/python"
}

# need_python: find_python, whose interpreter must exist (JASPER_VENV may name anything); TensorFlow's C++
# log is cut to errors unless the caller chose a level.
need_python() {
  find_python
  [ -x "$py" ] || fail "no Python interpreter at $py (JASPER_VENV=${JASPER_VENV:-unset})"
  export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
}

# use_one_device DEVICE_ID: sets backend (open_seq2seq.distributed.backend.select_backend: "npu" when
# npu_bridge imports; JASPER_BACKEND may force a choice) and points the runtime at that one device.
use_one_device() {
  backend="$(cd "$repo" && "$py" -c \
    'from open_seq2seq.distributed.backend import select_backend; print(select_backend())')" \
    || fail "cannot determine the backend (see the error above)"
  if [ "$backend" = npu ]; then
    # The Ascend runtime picks the device from these; one process is rank 0 of 1 (the reference set
    # DEVICE_INDEX to the device id, which is only a rank when it is 0).
    export DEVICE_ID="$1" ASCEND_DEVICE_ID="$1" DEVICE_INDEX=0 RANK_SIZE=1 RANK_ID=0
    export JOB_ID="${JOB_ID:-9999001}"
  elif [ "$backend" = gpu ]; then
    export CUDA_VISIBLE_DEVICES="${CUDA_VISIBLE_DEVICES-$1}"
  fi
}

# decide_resume LOGDIR: turns resume=auto into yes when LOGDIR holds a checkpoint (run.py --enable_logs keeps
# them in <logdir>/logs), or no when LOGDIR is empty or absent; files but no checkpoint is an error, as
# neither resuming nor a fresh run into that folder would be what the user meant. yes and no stay.
decide_resume() {
  [ "$resume" = auto ] || return 0
  if [ -f "$1/logs/checkpoint" ]; then
    resume=yes
  elif [ -d "$1" ] && [ -n "$(ls -A "$1")" ]; then
    fail "$1 holds no checkpoint to resume (a run that failed before its first checkpoint?); remove it or" \
      "choose another --result_dir"
  else
    resume=no
  fi
}

# start_log APPEND SUMMARY COMMAND_LINE: the log's two opening lines, "== <date> $me: SUMMARY" and
# "== COMMAND_LINE", on the console too; APPEND=yes (a resumed run) adds them to the log instead of starting
# it anew.
start_log() {
  {
    echo "== $(date '+%F %T') $me: $2"
    echo "== $3"
  } | if [ "$1" = yes ]; then tee -a "$log"; else tee "$log"; fi
}

# run_logged WHAT COMMAND...: runs COMMAND with its console (stderr too) appended to the log; the last line is
# then "turing $job success", or, from fail, "turing $job fail" with COMMAND's own exit status as the
# script's (WHAT names COMMAND in the message).
run_logged() {
  local what="$1" status
  shift
  set +e
  "$@" 2>&1 | tee -a "$log"
  status=${PIPESTATUS[0]}
  set -e
  if [ "$status" -ne 0 ]; then
    fail_status=$status
    fail "$what exited with status $status; log: $log"
  fi
  echo "turing $job success" | tee -a "$log"
}

# forward_to WORKER "$@": run_1p.sh and run_eval.sh, the reference's entry points, hand everything to their
# worker script; with -h/--help anywhere, their own usage line comes above the worker's help.
forward_to() {
  local worker="$1" arg
  shift
  for arg in "$@"; do
    case "$arg" in
      -h|--help)
        echo "Usage: scripts/$me [$worker options] [run.py overrides ...]"
        echo
        exec bash "$repo/scripts/$worker" --help ;;
    esac
  done
  export JOB_ID="${JOB_ID:-9999001}"
  exec bash "$repo/scripts/$worker" "$@"
}

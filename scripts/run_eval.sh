#!/usr/bin/env bash
# Evaluates the latest checkpoint of a training run on the dev set: the entry point, as the reference's
# scripts/run_eval.sh; eval_1p.sh does the work (see it for the folders it picks). Arguments are
# eval_1p.sh's, e.g.  scripts/run_eval.sh --result_dir=scripts/result/8p --data_root=/data/librispeech
# The reference also set DUMP_GE_GRAPH=2 and PRINT_MODEL=1, Ascend graph-dump debugging switches that slow
# the run and fill the disk; set them yourself when debugging. Source the CANN set_env.sh first on Ascend.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/launcher.sh
. "$repo/scripts/lib/launcher.sh" run_eval.sh
forward_to eval_1p.sh "$@"

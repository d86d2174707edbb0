#!/usr/bin/env bash
# The main job, one command on a fresh clone: install everything, build the offline mini corpus if absent,
# train the small Jasper (configs/speech2text/jasper_mini_nvgrad_masks.py) with periodic dev evaluation,
# evaluate dev WER, write test-set predictions, and print a summary with a training-curve plot.
#   JASPER_MINI_CORPUS  corpus folder (default <repo>/data/mini_librispeech)
#   JASPER_DEMO_LOGDIR  training folder (default <repo>/results/mini_demo; removed and retrained each run)
#   JASPER_DEMO_ARGS    extra run.py overrides for training, e.g. "--max_steps=200"
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
venv="$(bash scripts/setup_env.sh)"
py="$venv/bin/python"
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
export JASPER_MINI_CORPUS="${JASPER_MINI_CORPUS:-$repo/data/mini_librispeech}"
logdir="${JASPER_DEMO_LOGDIR:-$repo/results/mini_demo}"
config=configs/speech2text/jasper_mini_nvgrad_masks.py
start=$(date +%s)

if [ ! -f "$JASPER_MINI_CORPUS/librivox-test-clean.csv" ]; then
  echo "== Building the mini corpus in $JASPER_MINI_CORPUS"
  "$py" scripts/build_mini_corpus.py --output_dir "$JASPER_MINI_CORPUS"
  "$py" scripts/import_librivox.py --data_dir "$JASPER_MINI_CORPUS"
fi

rm -rf "$logdir"
echo "== Training ($config)"
# shellcheck disable=SC2086
"$py" run.py --config_file=$config --mode=train_eval --logdir="$logdir" ${JASPER_DEMO_ARGS:-}
train_end=$(date +%s)

echo "== Evaluating on dev-clean (unseen voices)"
"$py" run.py --config_file=$config --mode=eval --logdir="$logdir" | tee "$logdir/eval_dev.log"
dev_wer=$(grep "Validation WER" "$logdir/eval_dev.log" | tail -1 | awk '{print $NF}')

echo "== Inference on test-clean (unseen voices)"
"$py" run.py --config_file=$config --mode=infer --logdir="$logdir" --infer_output_file="$logdir/test_predictions.csv"
test_wer=$("$py" scripts/wer_of_predictions.py --predictions "$logdir/test_predictions.csv" \
  --manifest "$JASPER_MINI_CORPUS/librivox-test-clean.csv")

echo "== Summary"
"$py" scripts/summarize_training.py --logdir "$logdir" --final_wer "$dev_wer" --test_wer "$test_wer"
end=$(date +%s)
echo "Final dev WER: $(awk -v w="$dev_wer" 'BEGIN{printf "%.2f %%", 100*w}')"
echo "Test WER: $(awk -v w="$test_wer" 'BEGIN{printf "%.2f %%", 100*w}')"
echo "Checkpoint: $(sed -n 's/^model_checkpoint_path: "\(.*\)"/\1/p' "$logdir/checkpoint") in $logdir"
echo "Predictions: $logdir/test_predictions.csv"
echo "Wall time: training $(( (train_end - start) / 60 )) min, total $(( (end - start) / 60 )) min"

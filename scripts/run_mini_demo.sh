#!/usr/bin/env bash
# The main job, one command on a fresh clone: install everything, build the offline mini corpus if absent,
# train the small Jasper (configs/speech2text/jasper_mini_nvgrad_masks.py) with periodic dev evaluation,
# evaluate dev WER, write test-set predictions (greedy, and CTC beam search with a 3-gram word LM estimated on
# the corpus's LM text), and print a summary with a training-curve plot.
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

echo "== Test-clean with a language model (3-gram, CTC beam search)"
lm_text="$JASPER_MINI_CORPUS/librispeech-lm-norm.txt"
lm="$JASPER_MINI_CORPUS/lm-3gram.arpa"
vocab=open_seq2seq/test_utils/toy_speech_data/vocab.txt
test_wer_lm=""
if [ ! -f "$lm_text" ]; then
  # Corpora built before the builder wrote LM text get it from the same command (the audio is kept).
  "$py" scripts/build_mini_corpus.py --output_dir "$JASPER_MINI_CORPUS" || true
fi
if [ -f "$lm_text" ]; then
  [ -f "$lm" ] || "$py" scripts/build_lm.py --text "$lm_text" --output "$lm" --order 3 --vocab "$vocab"
  "$py" run.py --config_file=$config --mode=infer --logdir="$logdir" --infer_output_file="$logdir/test_logits.pickle" \
    --decoder_params/infer_logits_to_pickle=True
  "$py" scripts/decode.py --logits "$logdir/test_logits.pickle" --labels "$JASPER_MINI_CORPUS/librivox-test-clean.csv" \
    --lm "$lm" --vocab "$vocab" --alpha 0.5 --beta 0 --unknown_word_offset -15 \
    --infer_output_file "$logdir/test_predictions_lm.csv" | tee "$logdir/decode_test.log"
  test_wer_lm=$(sed -n 's/^best: .*WER \([0-9.]*\)$/\1/p' "$logdir/decode_test.log")
else
  echo "No LM text at $lm_text (a corpus built with other settings: re-run build_mini_corpus.py with them)"
fi

echo "== Summary"
"$py" scripts/summarize_training.py --logdir "$logdir" --final_wer "$dev_wer" --test_wer "$test_wer"
end=$(date +%s)
echo "Final dev WER: $(awk -v w="$dev_wer" 'BEGIN{printf "%.2f %%", 100*w}')"
echo "Test WER: $(awk -v w="$test_wer" 'BEGIN{printf "%.2f %%", 100*w}')"
if [ -n "$test_wer_lm" ]; then
  echo "Test WER with the 3-gram LM: $(awk -v w="$test_wer_lm" 'BEGIN{printf "%.2f %%", 100*w}')" \
    "(predictions $logdir/test_predictions_lm.csv)"
fi
echo "Checkpoint: $(sed -n 's/^model_checkpoint_path: "\(.*\)"/\1/p' "$logdir/checkpoint") in $logdir"
echo "Predictions: $logdir/test_predictions.csv"
echo "Wall time: training $(( (train_end - start) / 60 )) min, total $(( (end - start) / 60 )) min"

#!/usr/bin/env bash
# The main job, one command on a fresh clone: install everything, build the offline mini corpus if absent,
# train the small Jasper (configs/speech2text/jasper_mini_nvgrad_masks.py) with periodic dev evaluation,
# evaluate dev WER, write test-set predictions (greedy, and CTC beam search with a 3-gram word LM estimated on
# the corpus's LM text, its vocabulary widened by /usr/share/dict/words), measure the out-of-domain dev proxy
# (dev-other: unseen voice families under recording conditions training never applies) and the neural-TTS dev
# sets (the dev sentences read by Piper's voice, dev-piper, which some training speakers are made from, and by
# hibari's, dev-hibari, which none are) greedy and with the LM, and print a summary with a
# training-curve plot. Trains in bfloat16 on CPUs with native bf16 (AVX512-BF16/AMX: the config's 18400 steps
# take about 40 minutes on a slow 2-core host), otherwise in float32 with the schedule cut to 6000 steps.
#   JASPER_MINI_CORPUS  corpus folder (default <repo>/data/mini_librispeech)
#   JASPER_DEMO_LOGDIR  training folder (default <repo>/results/mini_demo; removed and retrained each run)
#   JASPER_DEMO_ARGS    extra run.py overrides for training, after the dtype choice, e.g. "--max_steps=200"
# Usage: [VARIABLE=value ...] bash scripts/run_mini_demo.sh   (--help: this text)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ $# -gt 0 ]; then
  # The job takes no arguments (its settings are the variables above); print the header instead of starting it.
  case "$1" in
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run_mini_demo.sh: takes no arguments, got '$1' (settings: JASPER_MINI_CORPUS, JASPER_DEMO_LOGDIR," \
         "JASPER_DEMO_ARGS; see --help)" >&2; exit 2 ;;
  esac
fi
cd "$repo"
venv="$(bash scripts/setup_env.sh)"
py="$venv/bin/python"
export JASPER_MINI_CORPUS="${JASPER_MINI_CORPUS:-$repo/data/mini_librispeech}"
logdir="${JASPER_DEMO_LOGDIR:-$repo/results/mini_demo}"
config=configs/speech2text/jasper_mini_nvgrad_masks.py
start=$(date +%s)

# Both steps resume where they stopped and take seconds on a finished corpus; the builder refuses a folder
# that holds a corpus built with other settings rather than training on it.
echo "== Building the mini corpus in $JASPER_MINI_CORPUS (kept if already complete)"
"$py" scripts/build_mini_corpus.py --output_dir "$JASPER_MINI_CORPUS"
"$py" scripts/import_librivox.py --data_dir "$JASPER_MINI_CORPUS"

if grep -qw -e avx512_bf16 -e amx_bf16 /proc/cpuinfo 2>/dev/null; then
  precision_args="--dtype=bfloat16"
else
  precision_args="--dtype=float32 --max_steps=6000"
fi

rm -rf "$logdir"
train_start=$(date +%s)
echo "== Training ($config $precision_args ${JASPER_DEMO_ARGS:-})"
# shellcheck disable=SC2086
"$py" run.py --config_file=$config --mode=train_eval --logdir="$logdir" $precision_args ${JASPER_DEMO_ARGS:-}
train_end=$(date +%s)

echo "== Evaluating on dev-clean (unseen voices)"
"$py" run.py --config_file=$config --mode=eval --logdir="$logdir" | tee "$logdir/eval_dev.log"
dev_wer=$(grep "Validation WER" "$logdir/eval_dev.log" | tail -1 | awk '{print $NF}')

echo "== Inference on test-clean (unseen voices)"
"$py" run.py --config_file=$config --mode=infer --logdir="$logdir" --infer_output_file="$logdir/test_predictions.csv"
test_wer=$("$py" scripts/wer_of_predictions.py --predictions "$logdir/test_predictions.csv" \
  --manifest "$JASPER_MINI_CORPUS/librivox-test-clean.csv")

echo "== Dev-clean and test-clean with a language model (3-gram, CTC beam search)"
lm_text="$JASPER_MINI_CORPUS/librispeech-lm-norm.txt"
lexicon=/usr/share/dict/words
# LM weight tuned on dev-clean and the dev-other proxy together (README: Voices and recording conditions)
lm_alpha=0.5
if [ -f "$lexicon" ]; then
  lm="$JASPER_MINI_CORPUS/lm-3gram-dict.arpa"
  lexicon_args=(--lexicon "$lexicon")
else
  lm="$JASPER_MINI_CORPUS/lm-3gram.arpa"
  lexicon_args=()
fi
vocab=open_seq2seq/test_utils/toy_speech_data/vocab.txt
[ -f "$lm" ] || "$py" scripts/build_lm.py --text "$lm_text" --output "$lm" --order 3 --vocab "$vocab" \
  "${lexicon_args[@]}"
for split in dev-clean test-clean dev-other dev-piper dev-hibari; do
  # the config with this split as its eval set, run in infer mode
  split_config="$logdir/${split}_infer_config.py"
  "$py" -c 'import sys; from open_seq2seq.utils.config import write_eval_set_infer_config as w; w(*sys.argv[1:3], sys.argv[3:])' \
    "$config" "$split_config" "$JASPER_MINI_CORPUS/librivox-$split.csv"
  "$py" run.py --config_file="$split_config" --mode=infer --logdir="$logdir" \
    --infer_output_file="$logdir/${split}_logits.npz" --decoder_params/infer_logits_to_pickle=True
  "$py" scripts/decode.py --logits "$logdir/${split}_logits.npz" \
    --labels "$JASPER_MINI_CORPUS/librivox-$split.csv" --lm "$lm" --vocab "$vocab" \
    --alpha "$lm_alpha" --beta 0 --unknown_word_offset -15 \
    --infer_output_file "$logdir/${split}_predictions_lm.csv" | tee "$logdir/decode_$split.log"
done
lm_wer() { sed -n 's/^best: .*WER \([0-9.]*\)$/\1/p' "$logdir/decode_$1.log"; }
greedy_wer() { sed -n 's/^greedy WER: \([0-9.]*\)$/\1/p' "$logdir/decode_$1.log"; }
percent() { awk -v w="$1" 'BEGIN{printf "%.2f %%", 100*w}'; }
dev_wer_lm=$(lm_wer dev-clean)
test_wer_lm=$(lm_wer test-clean)
dev_other_wer_lm=$(lm_wer dev-other)
dev_other_wer=$(greedy_wer dev-other)
echo "== Out-of-domain dev proxy with the LM, by recording condition"
"$py" scripts/wer_of_predictions.py --predictions "$logdir/dev-other_predictions_lm.csv" \
  --manifest "$JASPER_MINI_CORPUS/librivox-dev-other.csv" \
  --conditions "$JASPER_MINI_CORPUS/LibriSpeech/dev-other/CONDITIONS.TXT" | tail -n +2 | tee "$logdir/dev-other_conditions.md"

echo "== Summary"
"$py" scripts/summarize_training.py --logdir "$logdir" --final_wer "$dev_wer" --test_wer "$test_wer" \
  --dev_wer_lm "$dev_wer_lm" --test_wer_lm "$test_wer_lm" --dev_other_wer "$dev_other_wer" \
  --dev_other_wer_lm "$dev_other_wer_lm" || echo "(no training report)"
end=$(date +%s)
echo "Final dev WER: $(percent "$dev_wer")"
echo "Test WER: $(percent "$test_wer")"
echo "Dev WER with the 3-gram LM: $(percent "$dev_wer_lm")"
echo "Test WER with the 3-gram LM: $(percent "$test_wer_lm") (predictions $logdir/test-clean_predictions_lm.csv)"
echo "Out-of-domain dev proxy (dev-other) WER: $(percent "$dev_other_wer"), with the 3-gram LM: $(percent "$dev_other_wer_lm")"
echo "Neural-TTS dev set (dev-piper: Piper's joe voice, in training) WER: $(percent "$(greedy_wer dev-piper)")," \
  "with the 3-gram LM: $(percent "$(lm_wer dev-piper)")"
echo "Unseen neural-TTS dev set (dev-hibari: hibari's heart voice, not in training) WER:" \
  "$(percent "$(greedy_wer dev-hibari)"), with the 3-gram LM: $(percent "$(lm_wer dev-hibari)")"
echo "Checkpoint: $(sed -n 's/^model_checkpoint_path: "\(.*\)"/\1/p' "$logdir/checkpoint") in $logdir"
echo "Predictions: $logdir/test_predictions.csv"
echo "Wall time: corpus $(( (train_start - start) / 60 )) min, training $(( (train_end - train_start) / 60 )) min," \
  "total $(( (end - start) / 60 )) min"

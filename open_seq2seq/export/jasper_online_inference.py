"""Online inference from a frozen Jasper graph (generate_pb/ckpt2pb.py): pre-processing, batched inference,
greedy CTC post-processing and WER (docs/export.md).

    python online_inference/jasper_online_inference.py --model_path=jasper_infer_float32.pb
        --data_dir=DIR_WITH_MANIFEST --output_dir=OUT [--pre_process=True] [--post_process=True] [--batchSize=8]
        [--manifest=librivox-dev-clean.csv] [--config_file=CONFIG]

1. --pre_process: every row of <data_dir>/<manifest> -> <output_dir>/jasper/features/<name>.bin (float32
   [frames, F], the config's eval/infer features) and features_length/<name>.bin (int32 [1]), plus
   utterances.csv (the index, manifest order).
2. Inference: batches of --batchSize utterances in index order, the last one padded with empty rows; the
   logits of each utterance's valid frames go to <output_dir>/logits/<name>.bin (float32 [frames', V+1]).
   Prints the model load time, average ms per utterance, utterances/s and the real-time factor (inference
   time / audio duration); the timed runs follow one untimed warm-up run of the first batch.
3. --post_process: greedy CTC transcripts -> <output_dir>/predictions.csv (wav_filename,predicted_transcript)
   and the corpus WER against the manifest's transcripts -> printed and <output_dir>/accuracy.txt.
The graph and every manifest row are checked before anything is written, and the outputs are written into a
hidden staging folder that replaces the previous jasper/ (with --pre_process), logits/, predictions.csv and
accuracy.txt only when the whole run succeeds (staging.py): a failed run leaves the previous outputs as they
were, and a successful one never leaves a predictions.csv or accuracy.txt of another run beside its logits.
The graph must have the inputs features [B, T, F] and features_length [B] (int32) and the outputs
ForwardPass/fully_connected_ctc_decoder/logits [B, T', V+1] and logits_length [B] (int32), as ckpt2pb.py writes
them; a static B must be >= --batchSize and a static T >= the longest utterance. Any export dtype runs as it
is: a --dtype=bfloat16 graph takes float32 features and returns float32 logits like a float32 one. On Ascend (npu_bridge
importable) the session gets the NPU inference configuration (--precision_mode), elsewhere plain CPU/GPU.
"""
import argparse
import os
import sys
import time

import tensorflow.compat.v1 as tf

from open_seq2seq.data.speech2text.predictions import write_predictions
from open_seq2seq.data.vocab import vocab_params
from open_seq2seq.distributed.npu import PRECISION_MODES
from open_seq2seq.distributed.session_config import inference_session_config
from open_seq2seq.utils.cli import ArgumentParser, one_line_errors, positive_int
from open_seq2seq.utils.config import load_config_module, mode_config
from open_seq2seq.utils.logging import deco_print
from open_seq2seq.export.bin_files import LOGITS_DTYPE, write_bin
from open_seq2seq.export.frozen_model import FrozenJasper
from open_seq2seq.export.postprocess import score
from open_seq2seq.export.preprocess import preprocess, read_index, read_utterance
from open_seq2seq.export.staging import staged_outputs

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEFAULT_CONFIG = os.path.join(REPO, "configs", "speech2text", "jasper5x3_LibriSpeech_nvgrad_masks_1p.py")
TRUE_WORDS, FALSE_WORDS = ("yes", "true", "t", "1"), ("no", "false", "f", "0")


def str_to_bool(text):
  """The reference's string booleans (yes/true/t/1), with anything unrecognised refused."""
  if text.lower() in TRUE_WORDS:
    return True
  if text.lower() in FALSE_WORDS:
    return False
  raise argparse.ArgumentTypeError("expected one of {} or {}, got {!r}".format(TRUE_WORDS, FALSE_WORDS, text))


def build_parser():
  """The command line of online_inference/jasper_online_inference.py; a bad one raises ValueError."""
  parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                          allow_abbrev=False)
  parser.add_argument("--model_path", default="../model/jasper_infer_float32.pb", help="frozen graph (.pb)")
  parser.add_argument("--data_dir", default="../datasets", help="folder holding the manifest")
  parser.add_argument("--output_dir", default="../datasets/", help="where jasper/, logits/ and results go")
  parser.add_argument("--pre_process", type=str_to_bool, default=False, help="featurize the manifest first")
  parser.add_argument("--post_process", type=str_to_bool, default=True, help="decode and score the logits")
  parser.add_argument("--batchSize", type=positive_int, default=1, help="utterances per inference batch")
  parser.add_argument("--manifest", default="librivox-dev-clean.csv", help="manifest CSV inside --data_dir")
  parser.add_argument("--config_file", default=DEFAULT_CONFIG,
                      help="the model's config: feature settings and vocabulary (default: the 5x3 config)")
  parser.add_argument("--precision_mode", default="force_fp16", choices=PRECISION_MODES,
                      help="NPU precision mode (Ascend only)")
  parser.add_argument("--num_workers", type=positive_int, default=os.cpu_count() or 1,
                      help="parallel pre-processing jobs")
  return parser


def run_inference(model, source_dir, names, batch_size, logits_dir):
  """Runs every utterance of ``names`` (pre-processed under ``source_dir``) in batches of ``batch_size`` rows
  and writes its float32 logits ``[valid frames', V+1]`` to ``<logits_dir>/<name>.bin``; returns the seconds
  spent in the timed ``model.run`` calls. Raises ValueError when ``batch_size`` or an utterance does not fit a
  static graph or a feature file is bad, IOError when one is missing.
  """
  model.check_batch_size(batch_size)
  batches = [names[i:i + batch_size] for i in range(0, len(names), batch_size)]
  # Graph optimisation and memory allocation happen on the first run, which is therefore not timed.
  start = time.perf_counter()
  model.run([read_utterance(source_dir, name, model.num_features) for name in batches[0]], rows=batch_size)
  deco_print("Warm-up run (not timed): {:.3f} s".format(time.perf_counter() - start))
  run_seconds = 0.0
  for number, batch in enumerate(batches, start=1):
    features = [read_utterance(source_dir, name, model.num_features) for name in batch]
    start = time.perf_counter()
    logits = model.run(features, rows=batch_size)
    run_seconds += time.perf_counter() - start
    for name, utterance_logits in zip(batch, logits):
      write_bin(os.path.join(logits_dir, name + ".bin"), utterance_logits, LOGITS_DTYPE)
    if number % max(1, len(batches) // 10) == 0 or number == len(batches):
      deco_print("Processed {}/{} batches".format(number, len(batches)))
  return run_seconds


def check_feature_count(model, config_module):
  """Raises ValueError when the graph's F differs from the config's ``num_audio_features``; checked before any
  pre-processing."""
  expected = mode_config(config_module, "infer")["data_layer_params"]["num_audio_features"]
  if model.num_features != expected:
    raise ValueError("{}: the graph takes {} features per frame, the config's data_layer_params/"
                     "num_audio_features is {}: was it exported from another config?".format(
                         model.path, model.num_features, expected))


def post_process(config_module, manifest, output_dir, logits_dir, names, wav_filenames):
  """Writes ``predictions.csv`` and ``accuracy.txt`` into ``output_dir`` and prints the corpus WER.

  Raises ValueError when the references hold no words (WER undefined), and as postprocess.score does.
  """
  vocab_file = mode_config(config_module, "infer")["data_layer_params"]["vocab_file"]
  idx2char = vocab_params(vocab_file)["idx2char"]
  predictions, edits, words = score(logits_dir, names, wav_filenames, manifest, idx2char)
  if not words:
    raise ValueError("{}: the references of its {} utterances hold no words: WER is undefined".format(
        manifest, len(wav_filenames)))
  wer = edits / words
  write_predictions(os.path.join(output_dir, "predictions.csv"), wav_filenames, predictions)
  with open(os.path.join(output_dir, "accuracy.txt"), "w", encoding="utf-8") as handle:
    handle.write("total_word_count: {} total_word_lev: {} WER: {:.6f}\n".format(words, edits, wer))
  deco_print("total_word_count: {} total_word_lev: {} WER: {:.6f}".format(words, edits, wer))


def run_stages(args, config_module, model, staging):
  """Pre-processing (into ``staging``), inference and post-processing; every output goes into ``staging``."""
  manifest = os.path.join(args.data_dir, args.manifest)
  source_dir = os.path.join(staging if args.pre_process else args.output_dir, "jasper")
  if args.pre_process:
    start = time.perf_counter()
    count = preprocess(config_module, manifest, source_dir, args.num_workers)
    deco_print("Pre-processed {} utterances of {} in {:.1f} s".format(count, manifest, time.perf_counter() - start))
  names, wav_filenames, durations = read_index(source_dir)
  logits_dir = os.path.join(staging, "logits")
  os.makedirs(logits_dir)
  run_seconds = run_inference(model, source_dir, names, args.batchSize, logits_dir)
  audio_seconds = sum(durations)
  deco_print("Inference of {} utterances ({:.1f} s of audio) at batch size {}: {:.1f} s, average {:.3f} ms per "
             "utterance, {:.3f} utterances/s, real-time factor {:.4f}".format(
                 len(names), audio_seconds, args.batchSize, run_seconds, 1000 * run_seconds / len(names),
                 len(names) / run_seconds, run_seconds / audio_seconds))
  if args.post_process:
    post_process(config_module, manifest, staging, logits_dir, names, wav_filenames)


def main(argv=None):
  """Runs online inference as the command line ``argv`` (default: sys.argv[1:]) says; returns 0.

  Raises ValueError (bad flag, graph, manifest row or file) or IOError (missing file, unwritable output_dir)
  with the previous outputs untouched; ``cli`` turns them into one ``*** Error:`` line.
  """
  args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
  tf.disable_eager_execution()
  tf.logging.set_verbosity(tf.logging.ERROR)
  config_module = load_config_module(args.config_file)
  start = time.perf_counter()
  model = FrozenJasper(args.model_path, inference_session_config(args.precision_mode))
  deco_print("Load model cost time: {:.3f} s".format(time.perf_counter() - start))
  # Without pre-processing jasper/ is this run's input, not one of its outputs.
  outputs = (["jasper"] if args.pre_process else []) + ["logits", "predictions.csv", "accuracy.txt"]
  try:
    check_feature_count(model, config_module)
    with staged_outputs(args.output_dir, outputs) as staging:
      run_stages(args, config_module, model, staging)
  finally:
    model.close()
  return 0


# The entry point of online_inference/jasper_online_inference.py and the console script jasper-online-inference.
cli = one_line_errors()(main)

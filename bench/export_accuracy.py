#!/usr/bin/env python
"""Greedy-decoding WER of a checkpoint's frozen graphs per export dtype (generate_pb/ckpt2pb.py --dtype), each
against the float32 export on the same features: the accuracy check of the bfloat16 inference graph.

    JASPER_MINI_CORPUS=/work/data/mini_new python bench/export_accuracy.py \\
        --config_file=configs/speech2text/jasper_mini_nvgrad_masks.py --checkpoint=/work/runs/new/model.ckpt-12000 \\
        --manifest=/work/data/mini_new/librivox-dev-clean.csv [--dtypes float32,bfloat16] [--batch_size 8] \\
        [--no-fold_batch_norm] [--max_wer_delta 0.2] [--json results/bench/export_accuracy.json]

The manifest is pre-processed once (the config's eval/infer features, open_seq2seq/export/preprocess.py); each
dtype's graph is exported from the checkpoint as ckpt2pb.py exports it (the moving averages of the weights when
the config sets ema_decay), run through the frozen-graph runtime (FrozenJasper, the inference session settings)
in batches of --batch_size utterances taken in manifest order, decoded greedily (decoders/greedy_ctc.py) and
scored with the project's corpus WER (utils/metrics.py). Printed per dtype: WER, its difference to float32 in
points, transcripts that differ from float32's, the relative difference of the logits (Frobenius norm over each
utterance's valid frames; median and max) and the inference seconds. Exit status 1 when a dtype's WER is more
than --max_wer_delta points above float32's (the issue's acceptance: 0.2 points for bfloat16); a lower WER is no
loss of accuracy (on the mini dev set's 2932 words, rounding alone moves the WER by a few edits either way).
"""
import argparse
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# TensorFlow reads TF_CPP_MIN_LOG_LEVEL once, when it is first imported
import numpy as np
import tensorflow.compat.v1 as tf

from open_seq2seq.data.speech2text.manifest import read_transcripts
from open_seq2seq.data.vocab import vocab_params
from open_seq2seq.decoders.greedy_ctc import greedy_transcript
from open_seq2seq.distributed.session_config import inference_session_config
from open_seq2seq.export.ckpt2pb import export
from open_seq2seq.export.frozen_model import FrozenJasper
from open_seq2seq.export.preprocess import preprocess, read_index, read_utterance
from open_seq2seq.export.signature import EXPORT_DTYPES
from open_seq2seq.utils.checkpoint import resolve_checkpoint
from open_seq2seq.utils.cli import ArgumentParser, one_line_errors, positive_int
from open_seq2seq.utils.config import load_config_module, mode_config
from open_seq2seq.utils.metrics import error_counts

tf.disable_eager_execution()


def run_graph(path, utterances, batch_size):
  """(float32 logits ``[valid frames', V+1]`` per utterance, seconds in FrozenJasper.run) of the frozen graph
  at ``path`` over ``utterances`` (``[frames, F]`` float32 arrays), ``batch_size`` at a time in order."""
  model = FrozenJasper(path, inference_session_config())
  logits, seconds = [], 0.0
  try:
    for start in range(0, len(utterances), batch_size):
      begin = time.perf_counter()
      logits.extend(model.run(utterances[start:start + batch_size]))
      seconds += time.perf_counter() - begin
  finally:
    model.close()
  return logits, seconds


def relative_differences(logits, reference):
  """||a - b|| / ||b|| (Frobenius, each utterance's valid frames) of two lists of logits arrays."""
  return [float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30)) for a, b in zip(logits, reference)]


def compare(results, baseline="float32"):
  """Adds to each dtype's entry of ``results`` ({dtype: {"wer", "transcripts", "logits"}}) its difference to
  ``baseline``: ``wer_delta_points``, ``differing_transcripts`` and the median and max relative logits
  difference. The baseline's own entry gets zeros."""
  reference = results[baseline]
  for entry in results.values():
    differences = relative_differences(entry["logits"], reference["logits"])
    entry.update(wer_delta_points=100.0 * (entry["wer"] - reference["wer"]),
                 differing_transcripts=sum(a != b for a, b in zip(entry["transcripts"], reference["transcripts"])),
                 logits_difference_median=float(np.median(differences)),
                 logits_difference_max=float(np.max(differences)))
  return results


def markdown(results, count):
  """The Markdown table of ``compare``'s results over ``count`` utterances."""
  lines = ["| export dtype | WER (%) | vs float32 (points) | transcripts differing | logits difference median / "
           "max | inference s |", "|---|---|---|---|---|---|"]
  for dtype, entry in results.items():
    lines.append("| {} | {:.2f} | {:+.2f} | {}/{} | {:.2e} / {:.2e} | {:.1f} |".format(
        dtype, 100.0 * entry["wer"], entry["wer_delta_points"], entry["differing_transcripts"], count,
        entry["logits_difference_median"], entry["logits_difference_max"], entry["seconds"]))
  return "\n".join(lines)


def main(argv=None):
  """Runs the check as the command line ``argv`` says; returns 0, or 1 when a dtype's WER exceeds float32's by more
  than --max_wer_delta points. Raises ValueError (bad flag, config, checkpoint or manifest) or IOError."""
  parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                          allow_abbrev=False)
  parser.add_argument("--config_file", required=True)
  parser.add_argument("--checkpoint", required=True, help="checkpoint prefix or logdir (as ckpt2pb.py)")
  parser.add_argument("--manifest", required=True, help="manifest CSV of the utterances to score")
  parser.add_argument("--dtypes", default="float32,bfloat16",
                      help="export dtypes, comma-separated, from {} (float32 is always run first)".format(
                          sorted(EXPORT_DTYPES)))
  parser.add_argument("--fold_batch_norm", action=argparse.BooleanOptionalAction, default=True,
                      help="export with batch norm folded, as ckpt2pb.py does by default")
  parser.add_argument("--batch_size", type=positive_int, default=8)
  parser.add_argument("--max_wer_delta", type=float, default=0.2,
                      help="points of WER a dtype may lose against float32")
  parser.add_argument("--num_workers", type=positive_int, default=os.cpu_count() or 1,
                      help="parallel pre-processing jobs")
  parser.add_argument("--json", help="also write the results (without the logits) here")
  args = parser.parse_args(sys.argv[1:] if argv is None else argv)
  dtypes = ["float32"] + [d for d in args.dtypes.split(",") if d != "float32"]
  unknown = [d for d in dtypes if d not in EXPORT_DTYPES]
  if unknown:
    parser.error("argument --dtypes: unknown {}, choose from {}".format(unknown, sorted(EXPORT_DTYPES)))
  tf.logging.set_verbosity(tf.logging.ERROR)
  config_module = load_config_module(args.config_file)
  checkpoint = resolve_checkpoint(args.checkpoint, "--checkpoint")
  data_params = mode_config(config_module, "infer")["data_layer_params"]
  idx2char = vocab_params(data_params["vocab_file"])["idx2char"]
  references = read_transcripts(args.manifest)
  results = {}
  with tempfile.TemporaryDirectory() as tmp_dir:
    source_dir = os.path.join(tmp_dir, "features")
    start = time.perf_counter()
    count = preprocess(config_module, args.manifest, source_dir, args.num_workers)
    print("Pre-processed {} utterances of {} in {:.0f} s".format(count, args.manifest, time.perf_counter() - start),
          flush=True)
    names, wav_filenames, _ = read_index(source_dir)
    utterances = [read_utterance(source_dir, name, data_params["num_audio_features"]) for name in names]
    for dtype in dtypes:
      path = os.path.join(tmp_dir, dtype + ".pb")
      export(config_module, checkpoint, path, dtype, None, None, args.fold_batch_norm)
      logits, seconds = run_graph(path, utterances, args.batch_size)
      transcripts = [greedy_transcript(row, idx2char) for row in logits]
      edits, words = error_counts([references[w] for w in wav_filenames], transcripts, args.manifest)
      if not words:
        raise ValueError("{}: the references hold no words: WER is undefined".format(args.manifest))
      results[dtype] = {"wer": edits / words, "edits": edits, "words": words, "seconds": seconds,
                        "transcripts": transcripts, "logits": logits}
      print("{}: WER {:.2f} % ({} edits / {} words), inference {:.1f} s".format(
          dtype, 100.0 * edits / words, edits, words, seconds), flush=True)
  compare(results)
  print("\n{} from {}, {} utterances of {}, batch {}, batch norm {}\n".format(
      os.path.basename(args.config_file), checkpoint, len(names), args.manifest, args.batch_size,
      "folded" if args.fold_batch_norm else "kept"))
  print(markdown(results, len(names)))
  failed = [d for d, entry in results.items() if entry["wer_delta_points"] > args.max_wer_delta]
  print("\nAcceptance (WER - float32 WER <= {} points): {}".format(
      args.max_wer_delta, "NOT met for " + ", ".join(failed) if failed else "met"))
  if args.json:
    with open(args.json, "w") as handle:
      json.dump({"config_file": args.config_file, "checkpoint": checkpoint, "manifest": args.manifest,
                 "batch_size": args.batch_size, "fold_batch_norm": args.fold_batch_norm, "utterances": len(names),
                 "max_wer_delta": args.max_wer_delta,
                 "results": {d: {k: v for k, v in e.items() if k != "logits"} for d, e in results.items()}},
                handle, indent=1)
  return 1 if failed else 0


cli = one_line_errors()(main)

if __name__ == "__main__":
  sys.exit(cli())

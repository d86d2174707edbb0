"""Transcribe audio files, folders of them or manifests with a trained Jasper model, in one command.

    jasper-transcribe --model LOGDIR [--config_file CONFIG] recordings/ [more.flac ...] [--output_file out.csv]
    jasper-transcribe --model jasper.pb --config_file CONFIG talk.wav --output_format text
    jasper-transcribe --model LOGDIR data/librivox-test-clean.csv          # a manifest: the WER is printed too
    jasper-transcribe --model LOGDIR talks/ --decoder beam --lm lm-3gram.arpa --alpha 0.7 --beta 0 \\
        --output_file talks.jsonl --word_timestamps --word_confidence
    (python -m open_seq2seq.inference.transcribe and scripts/transcribe.py take the same command line)

Inputs: audio files (any format and sample rate libsndfile reads, whatever the extension), folders (searched
recursively for --extensions, default wav,flac,ogg and mp3 where this libsndfile reads it) and manifest CSVs
(wav_filename,wav_filesize,transcript, as scripts/import_librivox.py writes them; their transcripts are the
references of the printed WER). Audio at another rate is resampled and several channels are averaged, as the
data layer does it, and the features are those of run.py --mode=infer (the config's data_layer_params, no dither,
no augmentation): the data layer's own code computes them.

Model (--model): a training logdir (its newest intact checkpoint, or the best one with the config's
restore_best_checkpoint, as run.py --mode=infer picks it; the moving averages of the weights when the config sets
ema_decay) or a checkpoint prefix, with --config_file or the config copy run.py --enable_logs saved in the logdir;
a frozen graph .pb (generate_pb/ckpt2pb.py) or an ONNX model .onnx (generate_pb/pb2onnx.py). A .pb or .onnx file
holds no feature settings or vocabulary: they come from --config_file, which must be the config the model was
exported from. Further --key=value arguments override config values, as with run.py (e.g. --ema_decay=0).

Files are sorted by duration and run in batches of --batch_size, so that a batch pads little; a progress bar on
stderr counts audio seconds (with --no_progress, none), and the last lines give the audio-seconds per second and
the real-time factor (processing time / audio time, after the model is loaded).

Decoding: greedy CTC (the default), or --decoder beam: CTC beam search (--lm_backend: pyctcdecode with KenLM or
the in-house search), with --lm LM_FILE fused with a word n-gram LM (--alpha, --beta, --beam_width,
... as scripts/decode.py takes them; --lm implies --decoder beam).

Output (--output_format, default from the --output_file extension, else csv; to --output_file, else stdout):
csv (wav_filename,predicted_transcript, run.py --mode=infer's file), json (JSON lines: wav_filename, transcript,
duration, and with --word_timestamps / --word_confidence the words with their start and end in seconds and their
confidence), or text (the transcripts alone, one a line). Files are listed in input order: the arguments' order,
folders sorted by path, manifests in row order. Word times come from the CTC alignment (the greedy path; for beam
search the most likely path that spells the chosen transcript): a word runs from the first logit frame of its
first character to the end of the last frame of its last character, a logit frame lasting the feature hop
(window_stride, 10 ms) times the encoder's total stride (2 for Jasper: 20 ms). A word's confidence is the mean,
over those frames, of the softmax probability of the class the alignment takes there (for greedy decoding: the
maximum softmax probability); see open_seq2seq/decoders/ctc_alignment.py.

Errors: a file that cannot be read (missing, not audio, empty, truncated, damaged) gets one line on stderr
naming it and is left out of the output; the others are transcribed, the output is written, and the last line
counts the failures. Exit status: 0 when every file was transcribed, 2 when some could not be (the output holds
the others), 1 on an error that stops the run (a bad flag or input, no model, a config that does not fit; one
"*** Error:" line, nothing written), 130 when interrupted (nothing written).
"""
import argparse
import collections
import contextlib
import itertools
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import tensorflow.compat.v1 as tf
from tqdm import tqdm

from open_seq2seq.data.speech2text.preflight import probe_all
from open_seq2seq.data.speech2text.speech2text import file_features, infer_feature_params
from open_seq2seq.data.vocab import load_labels
from open_seq2seq.decoders.ctc_alignment import word_alignments
from open_seq2seq.decoders.lm_decode import add_beam_search_arguments, check_beam_search_arguments
from open_seq2seq.encoders.tdnn_encoder import time_stride
from open_seq2seq.inference.audio_inputs import DEFAULT_EXTENSIONS, collect_inputs, header_problem, parse_extensions
from open_seq2seq.inference.decoding import DECODERS, make_decoder
from open_seq2seq.inference.model_files import load_config, load_model
from open_seq2seq.inference.outputs import FORMATS, output_format, write_output
from open_seq2seq.utils.cli import ArgumentParser, one_line_errors, positive_int
from open_seq2seq.utils.config import mode_config
from open_seq2seq.utils.metrics import error_counts

EXIT_SOME_FAILED = 2
DEFAULT_BATCH_SIZE = 16


def build_parser():
  """The command line of the transcribe tool; a bad one raises ValueError (utils/cli.py)."""
  parser = ArgumentParser(description=__doc__, allow_abbrev=False,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("inputs", nargs="+", metavar="INPUT", help="audio files, folders of them, manifest CSVs")
  parser.add_argument("--model", required=True,
                      help="training logdir, checkpoint prefix (logdir/model.ckpt-N), frozen graph .pb or ONNX .onnx")
  parser.add_argument("--config_file",
                      help="the model's config (features, vocabulary); needed for .pb and .onnx models, and for a "
                           "logdir without the config copy of run.py --enable_logs")
  parser.add_argument("--batch_size", type=positive_int, default=DEFAULT_BATCH_SIZE,
                      help="utterances per batch (files are sorted by duration first)")
  parser.add_argument("--extensions", default=",".join(DEFAULT_EXTENSIONS),
                      help="comma-separated extensions of the audio files searched for in folders")
  parser.add_argument("--output_file", help="file to write (atomically); default: stdout")
  parser.add_argument("--output_format", choices=FORMATS,
                      help="csv, json (JSON lines) or text; default: from --output_file's extension (.csv, .json, "
                           ".jsonl, .txt), else csv")
  parser.add_argument("--decoder", choices=DECODERS,
                      help="greedy CTC, or CTC prefix beam search (with --lm: fused with a word LM); default: beam "
                           "with --lm, else greedy")
  parser.add_argument("--lm", help="word language model for --decoder beam: ARPA (.arpa or .arpa.gz), or with "
                                   "--lm_backend pyctcdecode also a KenLM binary")
  parser.add_argument("--alpha", type=float, default=1.0, help="LM weight")
  parser.add_argument("--beta", type=float, default=1.0, help="word insertion bonus")
  add_beam_search_arguments(parser)
  parser.add_argument("--word_timestamps", action="store_true",
                      help="each word's start and end in seconds (json output)")
  parser.add_argument("--word_confidence", action="store_true",
                      help="each word's confidence in [0, 1] (json output)")
  parser.add_argument("--workers", type=positive_int, default=os.cpu_count() or 1,
                      help="threads reading audio and computing features")
  parser.add_argument("--no_progress", action="store_true", help="no progress bar")
  return parser


def parse_args(argv):
  """``(namespace, config overrides)`` of the command line ``argv``; ValueError for a bad one."""
  args, extras = build_parser().parse_known_args(argv)
  stray = [token for token in extras if not (token.startswith("--") and "=" in token)]
  if stray:
    raise ValueError("unrecognized arguments: {} (config overrides take the form --key=value; see --help)".format(
        " ".join(stray)))
  args.format = output_format(args.output_format, args.output_file)
  if (args.word_timestamps or args.word_confidence) and args.format != "json":
    raise ValueError("--word_timestamps and --word_confidence need --output_format json (got {})".format(args.format))
  if args.decoder is None:
    args.decoder = "beam" if args.lm else "greedy"
  check_beam_search_arguments(args)
  for flag in ("lm", "output_file", "config_file"):
    if getattr(args, flag) == "":
      raise ValueError("--{} is given an empty file name".format(flag))
  if args.output_file and not os.path.isdir(os.path.dirname(os.path.abspath(args.output_file))):
    # Found now, not after the whole run.
    raise ValueError("--output_file {}: no such folder {}".format(
        args.output_file, os.path.dirname(os.path.abspath(args.output_file))))
  return args, extras


def frame_seconds(config_module, feature_params):
  """Seconds per logit frame: the feature hop (``window_stride``) times the encoder's total stride, from the
  config's infer-mode ``encoder_params/convnet_layers``. Raises ValueError when the encoder has no such table."""
  layers = mode_config(config_module, "infer").get("encoder_params", {}).get("convnet_layers")
  if not layers:
    raise ValueError("--word_timestamps needs the encoder's stride: the config has no encoder_params/convnet_layers")
  return feature_params["window_stride"] * time_stride(layers)


def _ordered_map(function, items, workers, ahead):
  """Yields ``function(item)`` for every item in order, computed by ``workers`` threads at most ``ahead`` items
  ahead of the consumer. An exception or an abandoned generator cancels what has not started."""
  iterator = iter(items)
  pool = ThreadPoolExecutor(workers)
  pending = collections.deque(pool.submit(function, item) for item in itertools.islice(iterator, ahead))
  try:
    while pending:
      result = pending.popleft().result()
      for item in itertools.islice(iterator, 1):
        pending.append(pool.submit(function, item))
      yield result
  finally:
    pool.shutdown(wait=True, cancel_futures=True)


class _Report:
  """Lines on stderr that do not tear the progress bar, and the bar itself (audio seconds)."""

  def __init__(self, total_seconds, enabled):
    self.total = total_seconds
    self.bar = tqdm(total=total_seconds, unit=" audio s", desc="Transcribing", file=sys.stderr,
                    disable=not enabled, dynamic_ncols=True, bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} "
                    "[{elapsed}<{remaining}, {rate_fmt}]")

  def line(self, text):
    """Writes ``text`` as one line on stderr."""
    self.bar.write(text, file=sys.stderr)

  def advance(self, seconds):
    """Moves the bar by ``seconds`` of audio (never past the total, which sums the same durations in another
    order)."""
    self.bar.update(min(seconds, self.total - self.bar.n))

  def finish(self):
    """Shows the bar full (the sums of the batches' seconds may round below the total)."""
    self.bar.n = self.total
    self.bar.refresh()

  def close(self):
    """Ends the bar's line."""
    self.bar.close()


def transcribe(utterances, model, feature_params, decode, labels, batch_size, workers, seconds_per_frame=None,
               progress=True):
  """Transcribes ``utterances`` (audio_inputs.Utterance) with ``model`` (model_files.load_model) and ``decode``
  (decoding.make_decoder for the characters ``labels``); returns ``(results, failures, audio seconds)``.

  ``results``: ``{index: {"wav_filename", "transcript", "duration", "words"}}`` of the files transcribed (words
  only with ``seconds_per_frame``); ``failures``: ``[(index, message)]`` of those that could not be read, each
  also written as one line on stderr when found. Files are probed (header), sorted by duration, read and
  featurized by ``workers`` threads ahead of the model, and run in batches of ``batch_size``.
  Raises ValueError when the model's outputs do not fit the vocabulary ``labels``.
  """
  headers = probe_all([utterance.path for utterance in utterances])
  failures, durations, usable = [], {}, []
  for index, header in enumerate(headers):
    problem = header_problem(header)
    if problem:
      failures.append((index, "Cannot read audio file {}: {}".format(utterances[index].path, problem)))
    else:
      durations[index] = header.frames / float(header.rate)
      usable.append(index)
  for _, message in failures:
    sys.stderr.write("*** Error: {}\n".format(message))
  report = _Report(sum(durations.values()), progress)
  order = sorted(usable, key=lambda index: (durations[index], index))

  def featurize(index):
    """``(index, features or None, error message or None)`` of one utterance."""
    try:
      return index, file_features(utterances[index].path, feature_params)[0], None
    except ValueError as error:
      return index, None, str(error)

  results = {}
  stream = _ordered_map(featurize, order, workers, ahead=2 * batch_size)
  try:
    for batch in iter(lambda: list(itertools.islice(stream, batch_size)), []):
      ready = []
      for index, features, problem in batch:
        if problem is None and model.num_frames is not None and len(features) > model.num_frames:
          problem = "{}: {} feature frames exceed the static {} frames of {}".format(
              utterances[index].path, len(features), model.num_frames, model.path)
        if problem is None:
          ready.append((index, features))
        else:
          failures.append((index, problem))
          report.line("*** Error: " + problem)
      if ready:
        for (index, _), logits in zip(ready, model.run([features for _, features in ready])):
          if logits.shape[1] != len(labels) + 1:
            raise ValueError("{} outputs {} classes per frame, but the config's vocabulary has {} characters plus "
                             "the blank: a model of another config?".format(model.path, logits.shape[1], len(labels)))
          transcript, path = decode(logits, align=seconds_per_frame is not None)
          results[index] = {"wav_filename": utterances[index].name, "transcript": transcript,
                            "duration": durations[index]}
          if seconds_per_frame is not None:
            results[index]["words"] = word_alignments(logits, path, labels, seconds_per_frame)
      report.advance(sum(durations[index] for index, _, _ in batch))
    report.finish()
  finally:
    stream.close()
    report.close()
  return results, sorted(failures), sum(durations[index] for index in results)


def print_wer(utterances, results):
  """Prints the corpus WER of the transcribed utterances that have a reference transcript (from manifests)."""
  scored = [index for index in sorted(results) if utterances[index].reference is not None]
  if not scored:
    return
  edits, words = error_counts([utterances[i].reference for i in scored], [results[i]["transcript"] for i in scored])
  if not words:
    print("*** WER: undefined: the references of the {} transcribed manifest rows hold no words".format(len(scored)))
    return
  print("*** WER: {:.2f} % ({} word edits / {} reference words, {} utterances)".format(
      100.0 * edits / words, edits, words, len(scored)))


def main(argv=None):
  """Transcribes as the command line ``argv`` (default: sys.argv[1:]) says; returns 0, or EXIT_SOME_FAILED when
  some files could not be read (the output holds the others). Raises ValueError / OSError (bad flag, input,
  model or config) before anything is written."""
  args, overrides = parse_args(sys.argv[1:] if argv is None else argv)
  tf.disable_eager_execution()
  tf.logging.set_verbosity(tf.logging.ERROR)
  stdout = sys.stdout
  # Every line but the output (and --help) goes to stderr, so that stdout holds the transcripts alone.
  with contextlib.redirect_stdout(sys.stderr):
    config_module, _ = load_config(args.model, args.config_file, overrides)
    feature_params = infer_feature_params(mode_config(config_module, "infer")["data_layer_params"])
    utterances, notes = collect_inputs(args.inputs, parse_extensions(args.extensions), feature_params["dataset_root"])
    for note in notes:
      print("*** Note: " + note)
    labels = load_labels(feature_params["vocab_file"])
    seconds_per_frame = frame_seconds(config_module, feature_params) \
        if args.word_timestamps or args.word_confidence else None
    decode = make_decoder(args.decoder, labels, lm=args.lm, alpha=args.alpha, beta=args.beta,
                          beam_width=args.beam_width, cutoff_prob=args.cutoff_prob, cutoff_top_n=args.cutoff_top_n,
                          unknown_word_offset=args.unknown_word_offset, lm_backend=args.lm_backend)
    started = time.time()
    model, description = load_model(args.model, config_module)
    try:
      if model.num_features != feature_params["num_audio_features"]:
        raise ValueError("{} takes {} features per frame, but the config's data_layer_params/num_audio_features is "
                         "{}: pass the config the model was exported from".format(
                             args.model, model.num_features, feature_params["num_audio_features"]))
      print("*** Model: {} (loaded in {:.1f} s); decoder: {}".format(
          description, time.time() - started,
          args.decoder + (" ({}) with LM {}".format(args.lm_backend, args.lm) if args.lm else "")))
      batch_size = min(args.batch_size, model.batch_size or args.batch_size)
      started = time.time()
      results, failures, audio_seconds = transcribe(
          utterances, model, feature_params, decode, labels, batch_size, args.workers, seconds_per_frame,
          not args.no_progress)
      elapsed = time.time() - started
    finally:
      model.close()
    write_output(args.output_file, stdout, args.format, [results[i] for i in sorted(results)],
                 args.word_timestamps, args.word_confidence)
    speed = ", {:.1f} audio-seconds per second (real-time factor {:.4f})".format(
        audio_seconds / max(elapsed, 1e-9), elapsed / audio_seconds) if audio_seconds else ""
    print("*** Transcribed {} of {} files: {:.1f} s of audio in {:.1f} s{}{}".format(
        len(results), len(utterances), audio_seconds, elapsed, speed,
        "; wrote " + args.output_file if args.output_file else ""))
    print_wer(utterances, results)
    if failures:
      print("*** Error: {} of {} files could not be transcribed (listed above){}".format(
          len(failures), len(utterances), "" if not results else "; the output holds the other {}".format(
              len(results))))
      return EXIT_SOME_FAILED
  return 0


# The entry point of the console script jasper-transcribe, scripts/transcribe.py and python -m.
cli = one_line_errors(interrupted="*** Interrupted: nothing was written")(main)

if __name__ == "__main__":
  sys.exit(cli())

"""The transcribe tool end to end on the shared tiny corpus and the tiny model trained through run.py: a folder of
FLACs gives run.py --mode=infer's transcripts of the WAV manifest, from the logdir, the frozen graph of
generate_pb/ckpt2pb.py and its ONNX conversion alike; a manifest gives run.py's very predictions file and its WER;
LM beam search gives scripts/decode.py's transcripts of run.py's logits dump; bad files are named and counted,
bad flags end in one line."""
import csv
import json
import os
import re
import shutil

import numpy as np
import pytest
import soundfile as sf

from open_seq2seq.data.speech2text.predictions import read_predictions
from open_seq2seq.data.speech2text.speech2text import file_features, infer_feature_params, read_signal
from open_seq2seq.decoders import lm_decode
from open_seq2seq.decoders.lm import build as build_lm
from open_seq2seq.inference import transcribe
from open_seq2seq.utils.config import load_config_module, mode_config, write_eval_set_infer_config
from open_seq2seq.utils.metrics import corpus_wer
from tests.e2e.e2e_helpers import CONFIG, REPO, run_script

TEST_MANIFEST = "librivox-test-clean.csv"
VOCAB = os.path.join(REPO, "open_seq2seq", "test_utils", "toy_speech_data", "vocab.txt")


def by_stem(predictions):
  """``{utterance id: transcript}`` of ``{wav_filename: transcript}`` (FLAC and WAV copies share the id)."""
  return {os.path.splitext(os.path.basename(name))[0]: text for name, text in predictions.items()}


def run_transcribe(capsys, *argv):
  """``(exit status, stdout, stderr)`` of the tool run in this process (its ``cli``, as the console script)."""
  capsys.readouterr()
  status = transcribe.cli(list(argv) + ["--no_progress"])
  captured = capsys.readouterr()
  return status, captured.out, captured.err


@pytest.fixture(autouse=True)
def corpus_env(corpus, monkeypatch):
  monkeypatch.setenv("JASPER_MINI_CORPUS", corpus)


@pytest.fixture(scope="module")
def run_py_infer(checkpoint, env, tmp_path_factory):
  """run.py --mode=infer's predictions CSV of the tiny config's infer set (test-clean, WAV manifest)."""
  output = str(tmp_path_factory.mktemp("run_py") / "infer.csv")
  run_script(["run.py", "--config_file=" + CONFIG, "--mode=infer", "--logdir=" + os.path.dirname(checkpoint),
              "--infer_output_file=" + output], env)
  return output


@pytest.fixture(scope="module")
def flac_folder(corpus):
  return os.path.join(corpus, "LibriSpeech", "test-clean")


@pytest.fixture(scope="module")
def frozen_graph(checkpoint, env, tmp_path_factory):
  path = str(tmp_path_factory.mktemp("pb") / "tiny.pb")
  run_script(["generate_pb/ckpt2pb.py", "--config_file=" + CONFIG, "--checkpoint=" + checkpoint,
              "--output_file=" + path], env)
  return path


def test_a_folder_of_flacs_gives_run_py_infer_transcripts(checkpoint, run_py_infer, flac_folder, tmp_path, capsys):
  output = str(tmp_path / "out.csv")
  status, out, err = run_transcribe(capsys, flac_folder, "--model", os.path.dirname(checkpoint),
                                    "--config_file", CONFIG, "--output_file", output, "--batch_size", "4")
  assert status == 0, err
  assert out == ""  # every log line goes to stderr
  reference = read_predictions(run_py_infer)
  assert len(reference) == 6 and any(text.strip() for text in reference.values()), "a weak comparison"
  predictions = read_predictions(output)
  assert all(name.startswith(flac_folder) and name.endswith(".flac") for name in predictions)
  assert by_stem(predictions) == by_stem(reference)
  assert re.search(r"Transcribed 6 of 6 files: [\d.]+ s of audio in [\d.]+ s, [\d.]+ audio-seconds per second "
                   r"\(real-time factor [\d.]+\)", err)
  assert "Model: checkpoint {}".format(checkpoint) in err


def test_the_frozen_graph_and_its_onnx_model_give_the_same(checkpoint, frozen_graph, run_py_infer, flac_folder, env,
                                                           tmp_path, capsys):
  reference = by_stem(read_predictions(run_py_infer))
  onnx_file = str(tmp_path / "tiny.onnx")
  run_script(["generate_pb/pb2onnx.py", "--model_path=" + frozen_graph, "--output_file=" + onnx_file], env)
  for model in (frozen_graph, onnx_file):
    output = str(tmp_path / (os.path.basename(model) + ".csv"))
    status, _, err = run_transcribe(capsys, flac_folder, "--model", model, "--config_file", CONFIG,
                                    "--output_file", output)
    assert status == 0, err
    assert by_stem(read_predictions(output)) == reference, model
  status, _, err = run_transcribe(capsys, flac_folder, "--model", frozen_graph)
  assert status == 1
  assert err.strip().splitlines()[-1] == ("*** Error: --model {}: a frozen graph holds no feature settings or "
                                          "vocabulary; pass the config it was exported from with "
                                          "--config_file".format(frozen_graph))


def test_a_manifest_gives_run_py_predictions_file_and_its_wer(checkpoint, run_py_infer, corpus, tmp_path, capsys):
  manifest = os.path.join(corpus, TEST_MANIFEST)
  output = str(tmp_path / "manifest.csv")
  status, _, err = run_transcribe(capsys, manifest, "--model", checkpoint, "--config_file", CONFIG,
                                  "--output_file", output)
  assert status == 0, err
  with open(output, "rb") as ours, open(run_py_infer, "rb") as theirs:
    assert ours.read() == theirs.read()  # same rows, order, names as written in the manifest, same bytes
  with open(manifest, newline="", encoding="utf-8") as handle:
    references = {row["wav_filename"]: row["transcript"] for row in csv.DictReader(handle)}
  predictions = read_predictions(output)
  wer = corpus_wer([references[name] for name in predictions], list(predictions.values()))
  assert "*** WER: {:.2f} % (".format(100 * wer) in err


def test_a_logdir_with_its_config_copy_needs_no_config_file(checkpoint, run_py_infer, flac_folder, tmp_path, capsys):
  # The layout of run.py --enable_logs: checkpoints in logdir/logs, the config copy config_<time>.py in logdir
  # (here a self-contained config running the tiny one, as a copy must be to load where it lies).
  logdir = tmp_path / "logdir"
  shutil.copytree(os.path.dirname(checkpoint), str(logdir / "logs"))
  write_eval_set_infer_config(CONFIG, str(logdir / "config_2026-01-01_00-00-00.py"))
  output = str(tmp_path / "out.jsonl")
  status, _, err = run_transcribe(capsys, flac_folder, "--model", str(logdir), "--output_file", output)
  assert status == 0, err
  assert "Config: {}".format(logdir / "config_2026-01-01_00-00-00.py") in err
  with open(output, encoding="utf-8") as handle:
    records = [json.loads(line) for line in handle]
  assert by_stem({r["wav_filename"]: r["transcript"] for r in records}) == by_stem(read_predictions(run_py_infer))
  # The tiny config's own copy runs its parent config beside it, which a logdir lacks: named, with the way out.
  os.remove(str(logdir / "config_2026-01-01_00-00-00.py"))
  shutil.copy(CONFIG, str(logdir / "config_2026-01-02_00-00-00.py"))
  status, _, err = run_transcribe(capsys, flac_folder, "--model", str(logdir))
  assert status == 1
  assert re.fullmatch(r"\*\*\* Error: the config copy .*config_2026-01-02_00-00-00.py in the logdir cannot be loaded "
                      r"\(.*\); pass --config_file", err.strip().splitlines()[-1])


def test_unreadable_files_are_named_counted_and_the_rest_transcribed(checkpoint, run_py_infer, flac_folder,
                                                                        tmp_path, capsys):
  folder = tmp_path / "mixed"
  shutil.copytree(flac_folder, str(folder))
  flacs = sorted(str(path) for path in folder.rglob("*.flac"))
  (folder / "noise.flac").write_bytes(os.urandom(4000))  # not audio at all
  with open(flacs[0], "rb") as handle:
    data = handle.read()
  (folder / "cut.flac").write_bytes(data[:len(data) // 3])  # a FLAC cut in its middle
  damaged = bytearray(data)
  damaged[len(data) // 3:len(data) // 3 + 3000] = np.random.default_rng(0).integers(0, 256, 3000, np.uint8).tobytes()
  (folder / "damaged.flac").write_bytes(bytes(damaged))  # a sound header: found only when the samples are read
  (folder / "empty.wav").write_bytes(b"")
  (folder / "notes.txt").write_text("not searched: not an audio extension")
  output = str(tmp_path / "out.csv")
  status, _, err = run_transcribe(capsys, str(folder), "--model", checkpoint, "--config_file", CONFIG,
                                  "--output_file", output)
  assert status == transcribe.EXIT_SOME_FAILED == 2
  lines = err.strip().splitlines()
  for name in ("noise.flac", "cut.flac", "empty.wav", "damaged.flac"):
    named = [line for line in lines if os.path.join(str(folder), name) in line]
    assert len(named) == 1 and named[0].startswith("*** Error: "), (name, lines)
  assert "lost sync" in [line for line in lines if "damaged.flac" in line][0]
  assert "Transcribed 6 of 10 files" in err
  assert lines[-1] == "*** Error: 4 of 10 files could not be transcribed (listed above); the output holds the other 6"
  assert by_stem(read_predictions(output)) == by_stem(read_predictions(run_py_infer))


def test_a_resampled_stereo_file_reads_as_its_16_khz_mono_copy(checkpoint, flac_folder, tmp_path, capsys):
  """A 22.05 kHz stereo FLAC, read by the data layer's code (channel mean, scipy's polyphase resampler) and its
  16 kHz mono copy made with another library (numpy's channel mean, then soxr, librosa's default resampler) give
  the same transcript. Features: the two resamplers agree to 0.01 dB below 6.5 kHz and differ by up to 0.8 dB in
  their transition bands (7-8 kHz), 0.45 % of the signal's RMS on this corpus; normalised log-mel features
  (unit variance per band) then differ by about 0.001 on average, by more only in the near-silent bands of
  synthesized speech (the log of a tiny power magnifies a tiny difference) and the top bands, hence tolerances on
  the mean and the 99th percentile rather than on every value."""
  soxr = pytest.importorskip("soxr")
  flac = sorted(os.path.join(root, name) for root, _, names in os.walk(flac_folder) for name in names)[0]
  speech, rate = sf.read(flac, dtype="float64")
  assert rate == 16000
  left = soxr.resample(speech, 16000, 22050, quality="VHQ")
  right = 0.5 * np.concatenate([np.zeros(11), left[:-11]])  # another channel: quieter, 0.5 ms later
  stereo_file = str(tmp_path / "stereo_22k.flac")
  sf.write(stereo_file, np.stack([left, right], axis=1) * 0.9, 22050, subtype="PCM_16")
  read_back, _ = sf.read(stereo_file, dtype="float64")
  mono_file = str(tmp_path / "mono_16k.wav")
  sf.write(mono_file, soxr.resample(read_back.mean(axis=1), 22050, 16000, quality="VHQ"), 16000, subtype="FLOAT")
  params = infer_feature_params(mode_config(load_config_module(CONFIG), "infer")["data_layer_params"])
  ours, theirs = read_signal(stereo_file, params), read_signal(mono_file, params)
  assert len(ours) == len(theirs)
  assert np.sqrt(np.mean((ours - theirs) ** 2) / np.mean(theirs ** 2)) < 0.01
  ours, theirs = file_features(stereo_file, params)[0], file_features(mono_file, params)[0]
  assert ours.shape == theirs.shape
  assert np.mean(np.abs(ours - theirs)) < 0.005 and np.percentile(np.abs(ours - theirs), 99) < 0.05
  output = str(tmp_path / "out.csv")
  status, _, err = run_transcribe(capsys, stereo_file, mono_file, "--model", checkpoint, "--config_file", CONFIG,
                                  "--output_file", output)
  assert status == 0, err
  predictions = read_predictions(output)
  assert predictions[stereo_file] == predictions[mono_file]


@pytest.mark.parametrize("backend", ["pyctcdecode", "in_house"])
def test_lm_beam_search_gives_decode_py_transcripts_of_run_py_logits(checkpoint, corpus, flac_folder, env, tmp_path,
                                                                     capsys, backend):
  lm = str(tmp_path / "lm.arpa")
  assert build_lm.main(["--text", os.path.join(corpus, "librispeech-lm-norm.txt"), "--output", lm, "--order", "2",
                        "--vocab", VOCAB]) == 0
  logits = str(tmp_path / "logits.npz")
  run_script(["run.py", "--config_file=" + CONFIG, "--mode=infer", "--logdir=" + os.path.dirname(checkpoint),
              "--infer_output_file=" + logits, "--decoder_params/infer_logits_to_pickle=True"], env)
  options = ["--lm", lm, "--alpha", "0.5", "--beta", "1", "--beam_width", "16", "--lm_backend", backend]
  decoded = str(tmp_path / "decode_py.csv")
  assert lm_decode.main(["--logits", logits, "--vocab", VOCAB, "--mode", "infer", "--infer_output_file", decoded,
                         "--workers", "1"] + options) == 0
  output = str(tmp_path / "transcribe.jsonl")
  status, _, err = run_transcribe(capsys, flac_folder, "--model", checkpoint, "--config_file", CONFIG,
                                  "--output_file", output, "--word_timestamps", "--word_confidence", *options)
  assert status == 0, err
  assert "decoder: beam ({}) with LM {}".format(backend, lm) in err
  with open(output, encoding="utf-8") as handle:
    records = [json.loads(line) for line in handle]
  assert by_stem({r["wav_filename"]: r["transcript"] for r in records}) == by_stem(read_predictions(decoded))
  for record in records:
    # The words of the forced alignment are the transcript's, in order, inside the utterance, one after another.
    assert [word["word"] for word in record["words"]] == record["transcript"].split()
    ends = [0.0] + [time for word in record["words"] for time in (word["start"], word["end"])]
    assert ends == sorted(ends) and ends[-1] <= record["duration"] + 0.02
    assert all(0 < word["confidence"] <= 1 for word in record["words"])


def test_text_to_stdout_holds_the_transcripts_alone(checkpoint, run_py_infer, flac_folder, capsys):
  files = sorted(os.path.join(root, name) for root, _, names in os.walk(flac_folder) for name in names)[:2]
  status, out, err = run_transcribe(capsys, *files, "--model", checkpoint, "--config_file", CONFIG,
                                    "--output_format", "text")
  assert status == 0, err
  expected = by_stem(read_predictions(run_py_infer))
  assert out == "".join(expected[os.path.splitext(os.path.basename(f))[0]] + "\n" for f in files)


@pytest.mark.parametrize("argv,message", [
    (["--batch_size", "0"], "argument --batch_size: expected a positive integer, got 0 (see --help)"),
    (["--word_timestamps"], "--word_timestamps and --word_confidence need --output_format json (got csv)"),
    (["--output_format", "xml"], "argument --output_format: invalid choice: 'xml' (choose from 'csv', 'json', "
                                 "'text') (see --help)"),
    (["--decoder", "greedy", "--lm", "x.arpa"], "--lm needs --decoder beam (greedy decoding uses no language model)"),
    (["--ema_decay", "0"], "unrecognized arguments: --ema_decay 0 (config overrides take the form --key=value; see "
                           "--help)"),
    (["--no_such_key=1"], "Unknown config override(s) ['--no_such_key=1']"),
    (["--extensions", ","], "--extensions names no extension: ',' (expected e.g. wav,flac)"),
    (["--output_file", "/no/such/folder/out.csv"], "--output_file /no/such/folder/out.csv: no such folder "
                                                   "/no/such/folder"),
])
def test_bad_flags_end_in_one_line(checkpoint, flac_folder, capsys, argv, message):
  status, out, err = run_transcribe(capsys, flac_folder, "--model", checkpoint, "--config_file", CONFIG, *argv)
  assert status == 1 and out == ""
  assert len(err.strip().splitlines()) <= 6 and err.strip().splitlines()[-1].startswith("*** Error: " + message)


def test_missing_inputs_and_models_are_named(checkpoint, flac_folder, tmp_path, capsys):
  status, _, err = run_transcribe(capsys, str(tmp_path / "nothing.wav"), "--model", checkpoint, "--config_file",
                                  CONFIG)
  assert status == 1 and err.strip() == "*** Error: {}: no such file or folder".format(tmp_path / "nothing.wav")
  (tmp_path / "empty").mkdir()
  status, _, err = run_transcribe(capsys, str(tmp_path / "empty"), "--model", checkpoint, "--config_file", CONFIG)
  assert status == 1 and "no audio files with the extensions wav,flac,ogg" in err
  status, _, err = run_transcribe(capsys, flac_folder, "--model", str(tmp_path / "model.pb"), "--config_file", CONFIG)
  assert status == 1 and err.strip() == "*** Error: --model {}: no such logdir, checkpoint, .pb or .onnx file".format(
      tmp_path / "model.pb")

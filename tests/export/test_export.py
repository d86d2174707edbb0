"""Export and online inference end to end: a tiny model trained through run.py is frozen by
generate_pb/ckpt2pb.py, run by online_inference/jasper_online_inference.py and converted to ONNX; the logits,
transcripts and WER are compared with those of run.py's own infer and eval modes on the same checkpoint."""
import csv
import os
import shutil

import numpy as np
import onnxruntime
import pytest
import tensorflow.compat.v1 as tf

import run
from open_seq2seq.export import ckpt2pb
from open_seq2seq.export.frozen_model import FrozenJasper
from open_seq2seq.export.preprocess import read_utterance
from open_seq2seq.utils.checkpoint import CheckpointError, build_restore_fn
from open_seq2seq.utils.config import load_config_module
from tests.e2e.e2e_helpers import CONFIG, run_script
from tests.export.test_export_bfloat16 import relative_error_bound

tf.disable_eager_execution()
LOGITS = "ForwardPass/fully_connected_ctc_decoder/logits"
DEV_MANIFEST = "librivox-dev-clean.csv"
# A static time size that is not a multiple of the config's pad_to (16), so the graph pads it itself.
STATIC_BATCH, STATIC_FRAMES = 4, 410


def export(checkpoint, env, output_file, *options):
  run_script(["generate_pb/ckpt2pb.py", "--config_file=" + CONFIG, "--checkpoint=" + checkpoint,
              "--output_file=" + output_file] + list(options), env)
  return output_file


def online(env, model_path, data_dir, output_dir, batch_size, *options, check=True):
  return run_script(["online_inference/jasper_online_inference.py", "--model_path=" + model_path,
                     "--data_dir=" + data_dir, "--output_dir=" + output_dir, "--pre_process=True",
                     "--batchSize={}".format(batch_size), "--config_file=" + CONFIG] + list(options), env,
                    check=check)


def read_csv(path):
  with open(path, newline="", encoding="utf-8") as handle:
    return list(csv.DictReader(handle))


def online_logits(output_dir):
  """``{wav_filename: logits}`` written by the online script."""
  index = read_csv(os.path.join(output_dir, "jasper", "utterances.csv"))
  return {row["wav_filename"]: np.fromfile(os.path.join(output_dir, "logits", row["name"] + ".bin"),
                                           np.float32).reshape(-1, 29) for row in index}


@pytest.fixture(scope="module")
def dynamic_pb(checkpoint, env, tmp_path_factory):
  return export(os.path.dirname(checkpoint), env, str(tmp_path_factory.mktemp("pb") / "dynamic.pb"))


@pytest.fixture(scope="module")
def static_pb(checkpoint, env, tmp_path_factory):
  return export(checkpoint, env, str(tmp_path_factory.mktemp("pb") / "static.pb"),
                "--batch_size={}".format(STATIC_BATCH), "--num_frames={}".format(STATIC_FRAMES))


@pytest.fixture(scope="module")
def online_dynamic(dynamic_pb, corpus, env, tmp_path_factory):
  output_dir = str(tmp_path_factory.mktemp("online_dynamic"))
  result = online(env, dynamic_pb, corpus, output_dir, 3)
  return output_dir, result.stdout


@pytest.fixture(scope="module")
def run_py_infer(checkpoint, corpus, monkeypatch_module):
  """Logits (valid frames) and transcripts of run.py's infer-mode model over the dev manifest, by
  wav_filename: the graph, data pipeline and restore run.py --mode=infer uses."""
  monkeypatch_module.setenv("JASPER_MINI_CORPUS", corpus)
  config_module = load_config_module(CONFIG)
  config_module["infer_params"]["data_layer_params"]["dataset_files"] = [os.path.join(corpus, DEV_MANIFEST)]
  logits, transcripts = {}, {}
  with tf.Graph().as_default() as graph:
    model, _ = run.create_models(config_module, "infer", args=None)
    restore = build_restore_fn(checkpoint)
    data_layer = model.get_data_layer()
    fetches = {"inputs": data_layer.input_tensors, "outputs": model.output,
               "logits": graph.get_tensor_by_name(LOGITS + ":0"), "lengths": model.decoder_output["src_length"]}
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      restore(sess)
      sess.run(data_layer.iterator.initializer)
      while True:
        try:
          values = sess.run(fetches)
        except tf.errors.OutOfRangeError:
          break
        hypotheses, ids = model.infer(values["inputs"], values["outputs"])
        for row, index in enumerate(ids):
          wav_filename = data_layer.wav_filenames[index]
          logits[wav_filename] = values["logits"][row, :values["lengths"][row]]
          transcripts[wav_filename] = hypotheses[row]
  return logits, transcripts


@pytest.fixture(scope="module")
def monkeypatch_module():
  with pytest.MonkeyPatch.context() as patch:
    yield patch


def test_frozen_graph_logits_and_transcripts_equal_run_py_infer(online_dynamic, run_py_infer):
  output_dir, stdout = online_dynamic
  reference_logits, reference_transcripts = run_py_infer
  exported = online_logits(output_dir)
  assert sorted(exported) == sorted(reference_logits) and len(exported) == 8
  for wav_filename, logits in exported.items():
    assert logits.shape == reference_logits[wav_filename].shape, wav_filename
    np.testing.assert_allclose(logits, reference_logits[wav_filename], rtol=0, atol=1e-5, err_msg=wav_filename)
  predictions = {row["wav_filename"]: row["predicted_transcript"]
                 for row in read_csv(os.path.join(output_dir, "predictions.csv"))}
  assert predictions == reference_transcripts
  assert any(t.strip() for t in predictions.values()), "the model only emits blanks: a weak comparison"
  for line in ("Load model cost time:", "ms per utterance", "utterances/s", "real-time factor"):
    assert line in stdout


def test_online_wer_equals_eval_mode_wer(checkpoint, online_dynamic, env):
  output_dir, stdout = online_dynamic
  evaluation = run_script(["run.py", "--config_file=" + CONFIG, "--mode=eval",
                           "--logdir=" + os.path.dirname(checkpoint)], env)
  eval_wer = [line.split()[-1] for line in evaluation.stdout.splitlines() if "Validation WER" in line][-1]
  with open(os.path.join(output_dir, "accuracy.txt"), encoding="utf-8") as handle:
    fields = handle.read().split()
  words, edits, wer = int(fields[1]), int(fields[3]), float(fields[5])
  assert wer == edits / words and "{:.4f}".format(wer) == eval_wer
  assert "WER: {:.6f}".format(wer) in stdout


def test_static_and_dynamic_exports_agree_on_valid_frames(static_pb, online_dynamic, corpus, env, tmp_path):
  static_dir = str(tmp_path / "online_static")
  online(env, static_pb, corpus, static_dir, STATIC_BATCH)
  static, dynamic = online_logits(static_dir), online_logits(online_dynamic[0])
  assert sorted(static) == sorted(dynamic)
  for wav_filename, logits in static.items():
    assert logits.shape == dynamic[wav_filename].shape
    np.testing.assert_allclose(logits, dynamic[wav_filename], rtol=0, atol=1e-5, err_msg=wav_filename)
  model = FrozenJasper(static_pb)
  assert (model.batch_size, model.num_frames, model.num_features) == (STATIC_BATCH, STATIC_FRAMES, 64)
  model.close()


def test_onnxruntime_logits_match_the_frozen_graph(dynamic_pb, online_dynamic, env, tmp_path):
  onnx_file = str(tmp_path / "dynamic.onnx")
  result = run_script(["generate_pb/pb2onnx.py", "--model_path=" + dynamic_pb, "--output_file=" + onnx_file], env)
  assert "max abs difference" in result.stdout
  output_dir = online_dynamic[0]
  index = read_csv(os.path.join(output_dir, "jasper", "utterances.csv"))
  features = [read_utterance(os.path.join(output_dir, "jasper"), row["name"], 64) for row in index]
  batch = np.zeros([len(features), max(len(f) for f in features), 64], np.float32)
  for row, utterance in enumerate(features):
    batch[row, :len(utterance)] = utterance
  session = onnxruntime.InferenceSession(onnx_file, providers=["CPUExecutionProvider"])
  logits, lengths = session.run([LOGITS, "logits_length"], {
      "features": batch, "features_length": np.array([len(f) for f in features], np.int32)})
  expected = online_logits(output_dir)
  for row, index_row in enumerate(index):
    np.testing.assert_allclose(logits[row, :lengths[row]], expected[index_row["wav_filename"]], rtol=0, atol=1e-4)


def test_float16_export_is_close_to_float32(checkpoint, dynamic_pb, online_dynamic, env, tmp_path):
  fp16_pb = export(checkpoint, env, str(tmp_path / "fp16.pb"), "--dtype=float16")
  source_dir = os.path.join(online_dynamic[0], "jasper")
  names = [row["name"] for row in read_csv(os.path.join(source_dir, "utterances.csv"))]
  features = [read_utterance(source_dir, name, 64) for name in names]
  half, full = FrozenJasper(fp16_pb), FrozenJasper(dynamic_pb)
  assert half.input_dtype == np.float16
  for low, high in zip(half.run(features), full.run(features)):
    assert low.shape == high.shape
    assert np.max(np.abs(low - high)) <= 0.01 * np.max(np.abs(high)) + 0.01
  half.close()
  full.close()


def test_bfloat16_export_runs_online_close_to_float32(checkpoint, online_dynamic, corpus, env, tmp_path):
  """The online script takes the bfloat16 graph as it is (float32 features in, float32 logits out); its logits
  are within bfloat16's rounding bound (test_export_bfloat16.py) of the float32 export's."""
  bf16_pb = export(checkpoint, env, str(tmp_path / "bf16.pb"), "--dtype=bfloat16")
  model = FrozenJasper(bf16_pb)
  assert model.input_dtype == np.float32
  model.close()
  output_dir = str(tmp_path / "online_bf16")
  stdout = online(env, bf16_pb, corpus, output_dir, 3).stdout
  assert "WER:" in stdout
  low, full = online_logits(output_dir), online_logits(online_dynamic[0])
  assert sorted(low) == sorted(full)
  bound = relative_error_bound(load_config_module(CONFIG))
  for wav_filename, logits in low.items():
    assert logits.shape == full[wav_filename].shape
    error = np.linalg.norm(logits - full[wav_filename]) / np.linalg.norm(full[wav_filename])
    assert 0 < error <= bound, (wav_filename, error, bound)


def test_graph_without_the_expected_tensors_is_refused(tmp_path):
  path = str(tmp_path / "other.pb")
  with tf.Graph().as_default() as graph:
    tf.identity(tf.placeholder(tf.float32, [None, 64], name="input"), name="output")
    with open(path, "wb") as handle:
      handle.write(graph.as_graph_def().SerializeToString())
  with pytest.raises(ValueError, match=r"no tensor\(s\) features, features_length, .*placeholders are \['input'\]"):
    FrozenJasper(path)
  (tmp_path / "text.pb").write_text("node { name: 'x' }")
  with pytest.raises(ValueError, match="not a binary GraphDef"):
    FrozenJasper(str(tmp_path / "text.pb"))


def test_feature_files_of_the_wrong_size_or_dtype_are_refused(online_dynamic, tmp_path):
  source_dir = os.path.join(online_dynamic[0], "jasper")
  name = read_csv(os.path.join(source_dir, "utterances.csv"))[0]["name"]
  features = read_utterance(source_dir, name, 64)
  for sub_dir in ("features", "features_length"):
    os.makedirs(str(tmp_path / sub_dir))
  np.array([len(features)], np.int32).tofile(str(tmp_path / "features_length" / (name + ".bin")))
  features.astype(np.float64).tofile(str(tmp_path / "features" / (name + ".bin")))
  with pytest.raises(ValueError, match=r"expected float32 \[{}, 64\] = {} bytes \(the size fits float64".format(
      len(features), features.nbytes)):
    read_utterance(str(tmp_path), name, 64)
  features[:-1].tofile(str(tmp_path / "features" / (name + ".bin")))
  with pytest.raises(ValueError, match=r"{}.bin: {} bytes, expected float32".format(name, features[:-1].nbytes)):
    read_utterance(str(tmp_path), name, 64)
  np.array([len(features)], np.int64).tofile(str(tmp_path / "features_length" / (name + ".bin")))
  with pytest.raises(ValueError, match=r"expected int32 \[1\] = 4 bytes"):
    read_utterance(str(tmp_path), name, 64)


def test_static_graph_limits_are_named(static_pb, online_dynamic, corpus, env, tmp_path):
  model = FrozenJasper(static_pb)
  with pytest.raises(ValueError, match="static 410 frames"):
    model.run([np.zeros([STATIC_FRAMES + 1, 64], np.float32)])
  model.close()
  result = online(env, static_pb, corpus, str(tmp_path / "out"), STATIC_BATCH + 1, check=False)
  assert result.returncode == 1
  assert "Batch size 5 exceeds the static batch size 4" in result.stderr


def test_checkpoint_of_another_model_is_refused(checkpoint, tmp_path):
  mini_config = os.path.join(os.path.dirname(CONFIG), "jasper_mini_nvgrad_masks.py")
  with pytest.raises(ValueError, match="lacks .* variable"):
    ckpt2pb.main(["--config_file=" + mini_config, "--checkpoint=" + checkpoint,
                  "--output_file=" + str(tmp_path / "x.pb")])
  with pytest.raises(IOError, match="no checkpoint in that directory"):
    ckpt2pb.main(["--config_file=" + CONFIG, "--checkpoint=" + str(tmp_path),
                  "--output_file=" + str(tmp_path / "y.pb")])


def test_mixed_precision_checkpoint_exports_its_float32_master_weights(env, tmp_path):
  """A float32 export takes the float32 master copies, not the float16 weights cast up (unfolded, so the graph
  holds the weights themselves)."""
  logdir = str(tmp_path / "mixed")
  run_script(["run.py", "--config_file=" + CONFIG, "--mode=train", "--logdir=" + logdir, "--max_steps=3",
              "--dtype=mixed"], env)
  pb_file = export(logdir, env, str(tmp_path / "mixed.pb"), "--no-fold_batch_norm")
  graph_def = tf.GraphDef()
  with open(pb_file, "rb") as handle:
    graph_def.ParseFromString(handle.read())
  constants = {node.name: tf.make_ndarray(node.attr["value"].tensor) for node in graph_def.node
               if node.op == "Const"}
  reader = tf.train.load_checkpoint(logdir)
  for name in ("ForwardPass/w2l_encoder/conv11/kernel",
               "ForwardPass/fully_connected_ctc_decoder/fully_connected/bias"):
    master = reader.get_tensor("Loss_Optimization/FP32-master-copy/" + name)
    assert reader.get_tensor(name).dtype == np.float16
    assert constants[name].dtype == np.float32
    np.testing.assert_array_equal(constants[name], master)
    assert not np.array_equal(master, master.astype(np.float16).astype(np.float32))


def test_a_damaged_checkpoint_prefix_is_refused_and_nothing_is_written(checkpoint, tmp_path):
  """Named explicitly, a damaged checkpoint is an error (a directory would fall back to an older one)."""
  copy = str(tmp_path / os.path.basename(checkpoint))
  for suffix in (".index", ".data-00000-of-00001"):
    shutil.copy(checkpoint + suffix, copy + suffix)
  os.truncate(copy + ".data-00000-of-00001", os.path.getsize(copy + ".data-00000-of-00001") - 1)
  output_file = str(tmp_path / "x.pb")
  with pytest.raises(CheckpointError, match=r"--checkpoint={}: the checkpoint is damaged \(IndexError".format(copy)):
    ckpt2pb.main(["--config_file=" + CONFIG, "--checkpoint=" + copy, "--output_file=" + output_file])
  assert not os.path.exists(output_file)

"""Damaged and unfitting checkpoints through run.py and generate_pb/ckpt2pb.py as a user meets them: a damaged
newest checkpoint falls back to the previous one with a warning (train resume, eval, infer, export), none intact
or a checkpoint of another model is one `*** Error:` line, and eval, infer and export leave the logdir as it was.
One tiny model is trained per module; each case damages a copy of its logdir."""
import os
import shutil

import pytest
import tensorflow.compat.v1 as tf

from open_seq2seq.utils.checkpoint import checkpoint_is_complete
from tests.e2e.e2e_helpers import CONFIG, REPO, read_progress, run_script, snapshot
from tests.e2e.checkpoint_damage import CHECKPOINT_DAMAGE, STATE_DAMAGE

WIDE_CONFIG = os.path.join(REPO, "tests", "e2e", "wide_test_config.py")
VOCAB = os.path.join(REPO, "open_seq2seq", "test_utils", "toy_speech_data", "vocab.txt")
DECODER_KERNEL = "ForwardPass/fully_connected_ctc_decoder/fully_connected/kernel"


@pytest.fixture(scope="module", name="trained")
def fixture_trained(env, tmp_path_factory):
  """A logdir of the tiny config with model.ckpt-5 and model.ckpt-10."""
  logdir = str(tmp_path_factory.mktemp("trained") / "logdir")
  run_script(["run.py", "--config_file=" + CONFIG, "--mode=train", "--logdir=" + logdir, "--max_steps=10",
              "--save_checkpoint_steps=5"], env)
  assert checkpoint_is_complete(os.path.join(logdir, "model.ckpt-5"))
  return logdir


@pytest.fixture(name="logdir")
def fixture_logdir(trained, tmp_path):
  copy = str(tmp_path / "logdir")
  shutil.copytree(trained, copy)
  return copy


def run_py(logdir, env, mode, *options, config=CONFIG):
  return run_script(["run.py", "--config_file=" + config, "--mode=" + mode, "--logdir=" + logdir] + list(options),
                    env, check=False)


def ckpt2pb(checkpoint, output_file, env, *options):
  return run_script(["generate_pb/ckpt2pb.py", "--config_file=" + CONFIG, "--checkpoint=" + checkpoint,
                     "--output_file=" + output_file] + list(options), env, check=False)


def assert_one_error_line(result, *fragments):
  assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
  assert "Traceback" not in result.stderr, result.stderr[-3000:]
  errors = [line for line in result.stderr.splitlines() if line.startswith("*** Error: ")]
  assert len(errors) == 1, result.stderr[-3000:]
  for fragment in fragments:
    assert fragment in errors[0], errors[0]
  return errors[0]


def test_resume_skips_a_truncated_checkpoint_and_repairs_the_state(logdir, env):
  damaged, previous = os.path.join(logdir, "model.ckpt-10"), os.path.join(logdir, "model.ckpt-5")
  CHECKPOINT_DAMAGE["data truncated"](damaged)
  result = run_py(logdir, env, "train", "--max_steps=15", "--save_checkpoint_steps=5", "--continue_learning")
  assert result.returncode == 0, result.stderr[-3000:]
  assert "Warning: skipping damaged checkpoint {} (IndexError".format(damaged) in result.stdout
  assert "Restored checkpoint from {}. Resuming training".format(previous) in result.stdout
  # Five steps from step 5 reach 10 again (its checkpoint rewritten whole), then 15.
  assert [step for step, _ in read_progress(logdir)][-2:] == [10, 15]
  assert checkpoint_is_complete(damaged)
  newest = tf.train.latest_checkpoint(logdir)
  assert newest == os.path.join(logdir, "model.ckpt-15")
  assert tf.train.load_checkpoint(newest).get_tensor("global_step") == 15


@pytest.mark.parametrize("mode,damage,expected", [("eval", "state empty", "model.ckpt-10"),
                                                  ("infer", "data bit flipped", "model.ckpt-5")])
def test_eval_and_infer_use_the_newest_intact_checkpoint_and_modify_nothing(logdir, env, tmp_path, mode, damage,
                                                                            expected):
  if damage in STATE_DAMAGE:
    STATE_DAMAGE[damage](os.path.join(logdir, "checkpoint"))
  else:
    CHECKPOINT_DAMAGE[damage](os.path.join(logdir, "model.ckpt-10"))
  before = snapshot(logdir)
  output = str(tmp_path / "predictions.csv")
  result = run_py(logdir, env, mode, "--infer_output_file=" + output)
  assert result.returncode == 0, result.stderr[-3000:]
  warnings = [line for line in result.stdout.splitlines() if "Warning" in line]
  assert len(warnings) == 1 and warnings[0].endswith("using " + os.path.join(logdir, expected)), warnings
  assert "Loading model from {}".format(os.path.join(logdir, expected)) in result.stdout
  assert ("Validation WER" in result.stdout) if mode == "eval" else os.path.exists(output)
  assert snapshot(logdir) == before


def test_ckpt2pb_exports_the_newest_intact_checkpoint(logdir, env, tmp_path):
  CHECKPOINT_DAMAGE["index garbage"](os.path.join(logdir, "model.ckpt-10"))
  before = snapshot(logdir)
  output = str(tmp_path / "model.pb")
  result = ckpt2pb(logdir, output, env)
  assert result.returncode == 0, result.stderr[-3000:]
  assert "Warning: skipping damaged checkpoint {}".format(os.path.join(logdir, "model.ckpt-10")) in result.stdout
  assert "from {}".format(os.path.join(logdir, "model.ckpt-5")) in result.stdout and os.path.getsize(output) > 0
  assert snapshot(logdir) == before


@pytest.mark.parametrize("entry", ["train", "eval", "infer", "ckpt2pb"])
def test_no_intact_checkpoint_is_one_error_line(logdir, env, tmp_path, entry):
  CHECKPOINT_DAMAGE["data 0 bytes"](os.path.join(logdir, "model.ckpt-10"))
  CHECKPOINT_DAMAGE["index truncated"](os.path.join(logdir, "model.ckpt-5"))
  before = snapshot(logdir)
  if entry == "ckpt2pb":
    result = ckpt2pb(logdir, str(tmp_path / "model.pb"), env)
  else:
    result = run_py(logdir, env, entry, "--continue_learning", "--infer_output_file=" + str(tmp_path / "out.csv"))
  assert_one_error_line(result, "No intact checkpoint in {}: ".format(logdir), "model.ckpt-10: IndexError",
                        "model.ckpt-5: ")
  assert snapshot(logdir) == before


def test_resuming_a_changed_model_is_refused_before_training(logdir, env):
  result = run_py(logdir, env, "train", "--max_steps=15", "--continue_learning", config=WIDE_CONFIG)
  # The last convolution of wide_test_config.py is 160 channels wide instead of 128; its kernel size is 1.
  assert_one_error_line(result, "Checkpoint {} does not fit".format(os.path.join(logdir, "model.ckpt-10")),
                        "ForwardPass/w2l_encoder/conv41/kernel (shape [1, 96, 128] in the checkpoint, "
                        "[1, 96, 160] in the model)")
  assert "global_step:" not in result.stdout
  assert read_progress(logdir)[-1][0] == 10


def _drop_from_checkpoint(prefix, names):
  """Rewrites checkpoint ``prefix`` without the variables ``names`` (as an older version wrote it)."""
  reader = tf.train.load_checkpoint(prefix)
  with tf.Graph().as_default():
    kept = [tf.Variable(reader.get_tensor(name), name=name) for name in reader.get_variable_to_shape_map()
            if name not in names]
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      tf.train.Saver(kept).save(sess, prefix, write_meta_graph=False, write_state=False)


def test_float32_checkpoint_without_the_loss_scaler_state_resumes(logdir, env):
  """Float32 checkpoints written before the scaler was built in float32 lack its state; they resume, and the
  scaler starts from its initial state."""
  state = ["Loss_Optimization/Variable", "Loss_Optimization/Variable_1", "Loss_Optimization/Variable_2"]
  _drop_from_checkpoint(os.path.join(logdir, "model.ckpt-10"), state)
  assert not set(state) & set(dict(tf.train.list_variables(os.path.join(logdir, "model.ckpt-10"))))
  result = run_py(logdir, env, "train", "--max_steps=15", "--continue_learning")
  assert result.returncode == 0, result.stderr[-3000:]
  assert "predates the loss scaler's state in float32 training graphs" in result.stdout
  assert "Loss_Optimization/Variable, Loss_Optimization/Variable_1, Loss_Optimization/Variable_2" in result.stdout
  assert read_progress(logdir)[-1][0] == 15
  stored = tf.train.load_checkpoint(os.path.join(logdir, "model.ckpt-15"))
  assert stored.get_tensor("Loss_Optimization/Variable_2") == 2.0 ** 14
  assert stored.get_tensor("global_step") == 15


@pytest.fixture(name="larger_vocab")
def fixture_larger_vocab(tmp_path):
  """The tiny config's vocabulary with two more symbols: the decoder gets two more outputs."""
  with open(VOCAB, encoding="utf-8") as handle:
    symbols = handle.read().splitlines()
  path = tmp_path / "vocab_plus_2.txt"
  path.write_text("\n".join(symbols + ["0", "1"]) + "\n", encoding="utf-8")
  return str(path), len(symbols)


def test_eval_and_export_of_another_vocabulary_are_refused(logdir, env, tmp_path, larger_vocab):
  vocab, size = larger_vocab
  # The decoder maps the last 128 channels to the symbols plus the CTC blank.
  shapes = "{} (shape [128, {}] in the checkpoint, [128, {}] in the model)".format(DECODER_KERNEL, size + 1, size + 3)
  result = run_py(logdir, env, "eval", "--data_layer_params/vocab_file=" + vocab)
  assert_one_error_line(result, os.path.join(logdir, "model.ckpt-10"), shapes)
  assert "Validation WER" not in result.stdout
  exported = ckpt2pb(logdir, str(tmp_path / "model.pb"), env, "--data_layer_params/vocab_file=" + vocab)
  assert_one_error_line(exported, shapes)
  assert not os.path.exists(str(tmp_path / "model.pb"))


def test_warm_start_with_another_vocabulary_lists_what_it_did_not_restore(trained, env, tmp_path, larger_vocab):
  vocab, size = larger_vocab
  result = run_py(str(tmp_path / "new"), env, "train", "--max_steps=1", "--load_model=" + trained,
                  "--data_layer_params/vocab_file=" + vocab)
  assert result.returncode == 0, result.stderr[-3000:]
  line = [line for line in result.stdout.splitlines() if "Warm start from" in line]
  assert len(line) == 1 and os.path.join(trained, "model.ckpt-10") in line[0]
  # The decoder's kernel and bias, and NovoGrad's first moment of each.
  for name, stored, model in ((DECODER_KERNEL, [128, size + 1], [128, size + 3]),
                              (DECODER_KERNEL.replace("kernel", "bias"), [size + 1], [size + 3])):
    assert "{} (shape {} in the checkpoint, {} in the model)".format(name, stored, model) in line[0]
  stored = tf.train.list_variables(os.path.join(trained, "model.ckpt-10"))
  total = len([name for name, _ in stored if name != "global_step"])
  assert "restored {} of {} variables".format(total - 4, total) in line[0]


def test_resume_if_exists_starts_from_scratch_then_resumes(env, tmp_path):
  logdir = str(tmp_path / "fresh")
  first = run_py(logdir, env, "train", "--max_steps=5", "--save_checkpoint_steps=5", "--resume_if_exists")
  assert first.returncode == 0, first.stderr[-3000:]
  assert "--resume_if_exists: log directory {} is empty or missing, training from scratch".format(logdir) \
      in first.stdout
  second = run_py(logdir, env, "train", "--max_steps=10", "--save_checkpoint_steps=5", "--resume_if_exists")
  assert second.returncode == 0, second.stderr[-3000:]
  assert "Restored checkpoint from {}. Resuming training".format(os.path.join(logdir, "model.ckpt-5")) \
      in second.stdout
  assert [step for step, _ in read_progress(logdir)][-1] == 10

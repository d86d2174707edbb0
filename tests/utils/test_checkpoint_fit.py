"""A checkpoint that does not fit the model (utils/checkpoint_fit.py through utils/checkpoint.py): eval, infer
and export refuse it naming each variable and both shapes, a resume refuses it before training, and a warm
start restores the subset that fits and lists the rest. The expected shapes come from the layer parameters."""
import copy

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from open_seq2seq.utils.checkpoint import build_restore_fn, check_resume_fits
from open_seq2seq.utils.checkpoint_fit import CheckpointMismatchError
from tests.optimizers.speech_model_fixture import BASE_PARAMS, VOCAB_SIZE, build_model

tf.disable_eager_execution()

LAST = "ForwardPass/w2l_encoder/conv31/"
DECODER_KERNEL = "ForwardPass/fully_connected_ctc_decoder/fully_connected/kernel"


def encoder_params(last_channels=None, drop_last=False):
  params = copy.deepcopy(BASE_PARAMS["encoder_params"])
  if drop_last:
    params["convnet_layers"] = params["convnet_layers"][:-1]
  if last_channels:
    params["convnet_layers"][-1]["num_channels"] = last_channels
  return params


@pytest.fixture(scope="module", name="checkpoint")
def fixture_checkpoint(tmp_path_factory):
  """A checkpoint of the fixture's model (last conv layer 48 channels wide) after two NovoGrad steps."""
  with tf.Graph().as_default():
    model = build_model()
    with tf.Session() as sess:
      sess.run([tf.global_variables_initializer(), model.get_data_layer().iterator.initializer])
      for _ in range(2):
        sess.run(model.train_op)
      return tf.train.Saver().save(sess, str(tmp_path_factory.mktemp("fit") / "model.ckpt"), global_step=2)


def restore_into(mode, checkpoint, **overrides):
  with tf.Graph().as_default():
    build_model(mode=mode, **overrides)
    return build_restore_fn(checkpoint)


@pytest.mark.parametrize("mode", ["eval", "infer"])
def test_a_wider_layer_is_refused_naming_both_shapes(checkpoint, mode):
  with pytest.raises(CheckpointMismatchError) as raised:
    restore_into(mode, checkpoint, encoder_params=encoder_params(last_channels=56))
  message = str(raised.value)
  assert message.startswith("Checkpoint {} does not fit this config's model: ".format(checkpoint))
  # conv31 is a [1, 32 -> 48] convolution with batch norm (gamma, beta, mean, variance), read by the decoder.
  assert "{}kernel (shape [1, 32, 48] in the checkpoint, [1, 32, 56] in the model)".format(LAST) in message
  assert "{} (shape [48, {}] in the checkpoint, [56, {}] in the model)".format(
      DECODER_KERNEL, VOCAB_SIZE + 1, VOCAB_SIZE + 1) in message
  assert "6 variable(s) of another shape or dtype: " in message and "\n" not in message


def test_a_removed_layer_and_an_added_one_are_named(checkpoint):
  with pytest.raises(CheckpointMismatchError) as raised:
    restore_into("eval", checkpoint, encoder_params=encoder_params(drop_last=True))
  message = str(raised.value)
  # kernel, gamma, beta, moving mean and variance
  unused = "5 weight(s) of the checkpoint are not in the model: {0}bn/beta, {0}bn/gamma, {0}bn/moving_mean, " \
      "{0}bn/moving_variance, {0}kernel".format(LAST)
  assert unused in message
  wider = encoder_params()
  wider["convnet_layers"].append(dict(wider["convnet_layers"][-1], num_channels=48))
  with pytest.raises(CheckpointMismatchError, match=r"it lacks 5 variable\(s\) of the model: [^;]*conv41/kernel"):
    restore_into("eval", checkpoint, encoder_params=wider)


def test_the_model_of_the_checkpoint_restores_its_values(checkpoint):
  with tf.Graph().as_default():
    build_model(mode="eval")
    restore = build_restore_fn(checkpoint)
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      restore(sess)
      reader = tf.train.load_checkpoint(checkpoint)
      for var in tf.global_variables():
        np.testing.assert_array_equal(sess.run(var), reader.get_tensor(var.op.name))


def test_variables_outside_the_forward_pass_keep_their_initial_values(checkpoint):
  """global_step and other non-model state a checkpoint lacks are no reason to refuse it."""
  with tf.Graph().as_default():
    build_model(mode="eval")
    extra = tf.get_variable("Loss_Optimization/not_in_checkpoint", initializer=np.float32(3.0))
    restore = build_restore_fn(checkpoint)
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      restore(sess)
      assert sess.run(extra) == 3.0


def test_resume_after_changing_the_model_is_refused(checkpoint):
  with tf.Graph().as_default():
    build_model(encoder_params=encoder_params(last_channels=56))
    with pytest.raises(CheckpointMismatchError) as raised:
      check_resume_fits(checkpoint)
  message = str(raised.value)
  assert "{}kernel (shape [1, 32, 48] in the checkpoint, [1, 32, 56] in the model)".format(LAST) in message
  # Besides the 6 model variables, NovoGrad's first moments of the 4 trainable ones (under Loss_Optimization/;
  # its second moments are one scalar per layer).
  assert "10 variable(s) of another shape or dtype" in message
  with tf.Graph().as_default():
    build_model()
    check_resume_fits(checkpoint)


def test_resume_in_another_dtype_or_optimizer_is_refused(checkpoint):
  with tf.Graph().as_default():
    build_model(dtype="mixed")
    with pytest.raises(CheckpointMismatchError, match=r"it lacks \d+ variable\(s\).*FP32-master-copy"):
      check_resume_fits(checkpoint)
  with tf.Graph().as_default():
    build_model(dtype=tf.float16)
    with pytest.raises(CheckpointMismatchError, match=r"(dtype float32 in the checkpoint, float16 in the model)"):
      check_resume_fits(checkpoint)


def test_warm_start_restores_what_fits_and_lists_the_rest(checkpoint, capsys):
  reader = tf.train.load_checkpoint(checkpoint)
  with tf.Graph().as_default():
    build_model(encoder_params=encoder_params(last_channels=56))
    variables = [var for var in tf.global_variables() if var.op.name != "global_step"]
    restore = build_restore_fn(checkpoint, variables, warm_start=True)
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      restore(sess)
      values = {var.op.name: sess.run(var) for var in variables}
  line = [line for line in capsys.readouterr().out.splitlines() if "Warm start" in line]
  assert len(line) == 1
  # 6 model variables and the NovoGrad first moments of the 4 trainable ones changed shape; the rest fits.
  assert "restored {} of {} variables".format(len(variables) - 10, len(variables)) in line[0]
  assert "not restored: " in line[0] and "{}kernel (shape [1, 32, 48] in the checkpoint, [1, 32, 56] in the " \
      "model)".format(LAST) in line[0]
  np.testing.assert_array_equal(values["ForwardPass/w2l_encoder/conv11/kernel"],
                                reader.get_tensor("ForwardPass/w2l_encoder/conv11/kernel"))
  assert values[LAST + "kernel"].shape == (1, 32, 56)

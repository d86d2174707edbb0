"""Every requested summary reaches the logdir's event files, read back with TensorBoard's own reader.

As in the reference, the gradient-pipeline summaries are created inside the ``Loss_Optimization`` scope, so
their tags carry that prefix; learning_rate and train_loss do not."""
import pytest
import tensorflow.compat.v1 as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from open_seq2seq.training.train import train
from tests.optimizers.speech_model_fixture import build_model

tf.disable_eager_execution()

KERNEL = "ForwardPass/w2l_encoder/conv11/kernel"
SCOPE = "Loss_Optimization/"


def train_and_read_tags(logdir, **overrides):
  with tf.Graph().as_default():
    model = build_model(logdir=logdir, max_steps=3, save_summaries_steps=1, print_loss_steps=None, **overrides)
    train(model)
  events = EventAccumulator(logdir, size_guidance={"scalars": 0, "histograms": 0})
  events.Reload()
  tags = events.Tags()
  return set(tags["scalars"]), set(tags["histograms"])


def test_every_summary_with_larc_and_loss_scaling(tmp_path):
  scalars, histograms = train_and_read_tags(
      str(tmp_path), dtype="mixed", loss_scaling="Backoff", larc_params={"larc_eta": 0.001},
      summaries=["learning_rate", "gradients", "gradient_norm", "global_gradient_norm", "variables",
                 "variable_norm", "larc_summaries", "loss_scale"])
  # Under mixed precision the optimizer sees the float32 master copies.
  master = "Loss_Optimization/FP32-master-copy/" + KERNEL
  assert {"learning_rate", "train_loss"} <= scalars
  for tag in ["global_gradient_norm", "loss_scale", "gradient_norm/{}_0".format(master),
              "variable_norm/{}_0".format(master), "larc_clip_on/" + master, "larc_grad_update/" + master,
              "larc_final_lr/" + master]:
    assert SCOPE + tag in scalars, tag
  for tag in ["gradients/{}_0".format(master), "variables/{}_0".format(master)]:
    assert SCOPE + tag in histograms, tag


def test_clipped_norm_and_default_summaries(tmp_path):
  scalars, histograms = train_and_read_tags(str(tmp_path / "clip"), max_grad_norm=1.0,
                                            summaries=["global_gradient_norm"])
  assert {SCOPE + "global_gradient_norm", SCOPE + "global_clipped_gradient_norm", "train_loss"} <= scalars
  assert "learning_rate" not in scalars and not histograms
  defaults, _ = train_and_read_tags(str(tmp_path / "defaults"), summaries=None, dtype="mixed",
                                    loss_scaling="LogMax")
  assert {"learning_rate", SCOPE + "global_gradient_norm", SCOPE + "loss_scale"} <= defaults


@pytest.mark.parametrize("summaries", [["gradient_norm"], ["variable_norm"]])
def test_float32_per_variable_summaries_use_the_variable_names(tmp_path, summaries):
  scalars, _ = train_and_read_tags(str(tmp_path), summaries=summaries)
  assert "{}{}/{}_0".format(SCOPE, summaries[0], KERNEL) in scalars

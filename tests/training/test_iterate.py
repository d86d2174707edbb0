"""iterate_data (open_seq2seq/training/iterate.py) on a one-weight fake model: every utterance once and in order,
the last partial batch included; the mean loss weighted by batch size; eval vs infer; the unalignable count; the
results and loss of several workers gathered in rank order, an empty shard and no utterance at all; read errors;
a stop signal between batches; and the progress and timing lines. Expectations are computed by hand from the
utterance values (output = w * value, loss = the batch's mean output)."""
import os
import signal
import time
import types

import pytest
import tensorflow.compat.v1 as tf

from open_seq2seq.training import iterate
from open_seq2seq.training.iterate import iterate_data
from open_seq2seq.training.stop_signals import RunInterrupted, StopOnSignal
from tests.training.fake_model import FakeDataLayer, FakeModel, FakeWorkers

tf.disable_eager_execution()

WEIGHT = 2.0


@pytest.fixture(autouse=True)
def fresh_graph():
  with tf.Graph().as_default():
    yield


def run(model, compute_loss=True, verbose=False):
  """iterate_data in a session where the model's weight is WEIGHT."""
  with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    sess.run(model.weight.assign(WEIGHT))
    return iterate_data(model, sess, compute_loss=compute_loss, verbose=verbose)


def test_every_utterance_once_in_order_with_the_last_partial_batch():
  model = FakeModel(FakeDataLayer([0, 1, 2, 3, 4, 5, 6], batch_size=3))
  results, loss = run(model)
  assert model.evaluated == [[0, 1, 2], [3, 4, 5], [6]]
  assert results == [[0, 2, 4], [6, 8, 10], [12]]
  # Mean over utterances, 2 * mean(0..6) = 6; averaging the three batch means would give (2 + 8 + 12) / 3.
  assert loss == pytest.approx(6.0)
  assert model.get_data_layer().skipped_reports == 1


def test_inference_calls_infer_and_returns_no_loss():
  model = FakeModel(FakeDataLayer([1, 2, 3], batch_size=2), mode="infer")
  results, loss = run(model, compute_loss=False)
  assert (results, loss) == ([[2, 4], [6]], None)
  assert model.inferred == [[1, 2], [3]] and model.evaluated == []


def test_unalignable_utterances_are_counted_over_all_batches(capsys):
  model = FakeModel(FakeDataLayer([0, 1, 2, 3, 4, 5, 6], batch_size=3), unalignable_above=4.5)
  run(model)
  assert "Warning: 2 of 7 utterances cannot be aligned" in capsys.readouterr().out


@pytest.mark.parametrize("unalignable_above", [10.0, None], ids=["none above", "loss without the count"])
def test_no_warning_when_every_utterance_aligns(unalignable_above, capsys):
  _, loss = run(FakeModel(FakeDataLayer([0, 1, 2], batch_size=2), unalignable_above=unalignable_above))
  assert loss == pytest.approx(2.0)
  assert "cannot be aligned" not in capsys.readouterr().out


# Another worker's (results per batch, sum of loss * batch size, utterances, unalignable), as it would gather it.
OTHER_WORKER = ([[10.0, 20.0, 30.0]], 60.0, 3, 1)


@pytest.mark.parametrize("rank", [0, 1])
def test_workers_get_every_shard_in_rank_order_and_the_global_loss(rank, capsys):
  workers = FakeWorkers(rank, others={1 - rank: OTHER_WORKER})
  results, loss = run(FakeModel(FakeDataLayer([1, 2], batch_size=2), hvd=workers))
  own = [[2.0, 4.0]]
  # This shard: loss 3 for a batch of 2 utterances.
  assert workers.gathered == [(own, 6.0, 2, 0)]
  assert results == (own + OTHER_WORKER[0] if rank == 0 else OTHER_WORKER[0] + own)
  assert loss == pytest.approx((6.0 + 60.0) / 5)  # the mean over all 5 utterances, not of the two shard means
  assert "Warning: 1 of 5 utterances cannot be aligned" in capsys.readouterr().out


def test_an_empty_shard_gets_the_other_workers_results():
  workers = FakeWorkers(0, others={1: OTHER_WORKER})
  model = FakeModel(FakeDataLayer([], batch_size=2), hvd=workers)
  assert run(model) == (OTHER_WORKER[0], pytest.approx(60.0 / 3))
  assert model.evaluated == []


def test_workers_that_cannot_gather_keep_their_own_results():
  workers = FakeWorkers(1, others={0: OTHER_WORKER}, can_gather=False)
  assert run(FakeModel(FakeDataLayer([1, 2], batch_size=2), hvd=workers)) == ([[2.0, 4.0]], pytest.approx(3.0))
  assert workers.gathered == []


@pytest.mark.parametrize("hvd", [None, FakeWorkers(0, others={1: ([], 0.0, 0, 0)})], ids=["one", "all workers"])
def test_no_utterance_read_at_all_is_an_error(hvd):
  with pytest.raises(ValueError, match=r"No utterance of \['fake_manifest.csv'\] could be read"):
    run(FakeModel(FakeDataLayer([], batch_size=2), hvd=hvd))


def test_an_unreadable_utterance_raises_the_data_layers_error():
  error = ValueError("fake_manifest.csv row 5: cannot read the audio")
  model = FakeModel(FakeDataLayer([0, 1, 2, 3, 4], batch_size=2, fail_on=3, input_error=error))
  with pytest.raises(ValueError) as raised:
    run(model)
  assert raised.value is error and isinstance(raised.value.__cause__, tf.errors.OpError)
  assert model.evaluated == [[0, 1]]


def test_a_failure_not_from_the_data_propagates_unchanged():
  with pytest.raises(tf.errors.InvalidArgumentError, match="unreadable utterance"):
    run(FakeModel(FakeDataLayer([0, 1, 2], batch_size=2, fail_on=2)))


class SignalAfterFirstBatch(FakeModel):
  """Receives SIGTERM while its first batch is evaluated (the main thread takes it at once)."""

  def evaluate(self, input_values, output_values):
    if not self.evaluated:
      os.kill(os.getpid(), signal.SIGTERM)
      time.sleep(0.05)
    return super().evaluate(input_values, output_values)

  infer = evaluate


@pytest.mark.parametrize("mode, what", [("eval", "Evaluation"), ("infer", "Inference")])
def test_a_stand_alone_run_stops_between_batches_on_a_signal(mode, what):
  model = SignalAfterFirstBatch(FakeDataLayer([0, 1, 2, 3, 4], batch_size=2), mode=mode)
  with StopOnSignal(grace_seconds=600, stops_evaluation=True), pytest.raises(RunInterrupted) as raised:
    run(model, compute_loss=mode == "eval")
  assert str(raised.value) == "{} stopped by SIGTERM; nothing written".format(what)
  assert raised.value.exit_code == 128 + signal.SIGTERM
  assert model.evaluated == [[0, 1]]


def test_an_evaluation_inside_training_runs_to_its_end_on_a_signal():
  # Training's StopOnSignal does not stop evaluations: the loop stops after it and writes the checkpoint.
  model = SignalAfterFirstBatch(FakeDataLayer([0, 1, 2, 3, 4], batch_size=2))
  with StopOnSignal(grace_seconds=600) as stop:
    results, _ = run(model)
    assert stop.received == signal.SIGTERM
  assert results == [[0, 2], [4, 6], [8]]


def test_progress_lines_at_the_first_and_last_batch_and_every_tenth(capsys):
  # 25 batches: lines at 1, at every 25 // 10 = 2 batches, and at 25.
  run(FakeModel(FakeDataLayer(list(range(25)), batch_size=1)), verbose=True)
  printed = [int(line.split()[2].split("/")[0]) for line in capsys.readouterr().out.splitlines()
             if "Processed" in line]
  assert printed == [1] + list(range(2, 25, 2)) + [25]


def test_three_batches_print_the_first_and_the_last(capsys):
  run(FakeModel(FakeDataLayer([0, 1, 2, 3, 4, 5, 6], batch_size=3)), verbose=True)
  out = capsys.readouterr().out
  assert "Processed 1/3 batches" in out and "Processed 3/3 batches" in out and "Processed 2/3" not in out


def test_timing_leaves_out_the_batches_before_bench_start(monkeypatch, capsys):
  ticks = iter(range(1000))
  monkeypatch.setattr(iterate, "time", types.SimpleNamespace(time=lambda: 0.25 * next(ticks)))
  # Objects per batch: 2 + 2 + 2, 3 + 3 + 3, 4; bench_start=1 times batches 2 and 3, one clock tick (0.25 s) each.
  data = FakeDataLayer([0, 1, 2, 3, 4, 5, 6], batch_size=3, lengths=[2, 2, 2, 3, 3, 3, 4])
  run(FakeModel(data, params={"bench_start": 1}), verbose=True)
  out = capsys.readouterr().out
  assert "Avg time per step: 0.250s" in out
  assert "Avg objects per second: {:.3f}".format((9 + 4) / 0.5) in out

"""select_backend: npu before gpu before cpu, and JASPER_BACKEND forces a choice this machine can honour."""
import pytest
import tensorflow.compat.v1 as tf

from open_seq2seq.distributed import backend
from open_seq2seq.distributed.backend import select_backend


@pytest.fixture
def gpu_visible(monkeypatch):
  monkeypatch.setattr(backend, "_gpu_visible", lambda: True)


@pytest.fixture
def no_gpu(monkeypatch):
  monkeypatch.setattr(backend, "_gpu_visible", lambda: False)


def test_this_machine(no_npu_bridge):
  expected = "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
  assert select_backend({}) == expected


def test_cpu_without_accelerators(no_npu_bridge, no_gpu):
  assert select_backend({}) == "cpu"
  assert select_backend({"JASPER_BACKEND": ""}) == "cpu"


def test_gpu_when_tensorflow_lists_one(no_npu_bridge, gpu_visible):
  assert select_backend({}) == "gpu"


def test_npu_wins_over_gpu(fake_npu_bridge, gpu_visible):
  assert select_backend({}) == "npu"


@pytest.mark.parametrize("forced,expected", [("cpu", "cpu"), (" GPU ", "gpu"), ("npu", "npu")])
def test_override(fake_npu_bridge, gpu_visible, forced, expected):
  assert select_backend({"JASPER_BACKEND": forced}) == expected


def test_override_reads_the_process_environment(fake_npu_bridge, monkeypatch):
  monkeypatch.setenv("JASPER_BACKEND", "cpu")
  assert select_backend() == "cpu"


def test_unknown_override(no_npu_bridge):
  with pytest.raises(ValueError, match="JASPER_BACKEND='tpu': expected one of npu, gpu, cpu"):
    select_backend({"JASPER_BACKEND": "tpu"})


def test_override_to_a_missing_npu(no_npu_bridge):
  with pytest.raises(ValueError, match="JASPER_BACKEND=npu but npu_bridge"):
    select_backend({"JASPER_BACKEND": "npu"})


def test_override_to_a_missing_gpu(no_npu_bridge, no_gpu):
  with pytest.raises(ValueError, match="JASPER_BACKEND=gpu but TensorFlow lists no GPU"):
    select_backend({"JASPER_BACKEND": "gpu"})

"""Fixtures that put the test double of npu_bridge on the import path, or make sure it is absent."""
import os
import sys

import pytest

from open_seq2seq.distributed.npu import npu_bridge_available

FAKE_NPU_BRIDGE_ROOT = os.path.join(os.path.dirname(__file__), "fake_npu_bridge")


def _forget_npu_bridge():
  for name in [name for name in sys.modules if name == "npu_bridge" or name.startswith("npu_bridge.")]:
    del sys.modules[name]
  npu_bridge_available.cache_clear()


@pytest.fixture
def fake_npu_bridge(monkeypatch):
  monkeypatch.syspath_prepend(FAKE_NPU_BRIDGE_ROOT)
  _forget_npu_bridge()
  yield
  _forget_npu_bridge()


@pytest.fixture
def no_npu_bridge():
  """This machine has no npu_bridge; the cached answer of an earlier test must not leak in."""
  _forget_npu_bridge()
  if npu_bridge_available():
    pytest.skip("a real npu_bridge is installed")
  yield
  _forget_npu_bridge()

"""The weight-update path a test runs: the fused NovoGrad kernel or the op-by-op update."""
import pytest

from open_seq2seq.optimizers import fused_update


@pytest.fixture(params=["fused", "op_by_op"])
def update_path(request, monkeypatch):
  """Runs the test once with the fused kernel (which must build here: the setup installs g++) and once with the
  op-by-op update (``JASPER_FUSED_UPDATE=0``)."""
  monkeypatch.setenv(fused_update.ENABLE_ENV, "1" if request.param == "fused" else "0")
  fused_update.reset()
  if request.param == "fused":
    assert fused_update.fused_update_ops() is not None, "the fused NovoGrad kernel did not build"
  yield request.param
  fused_update.reset()

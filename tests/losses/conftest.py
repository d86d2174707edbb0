"""The CTC path a test runs: the project's CTC loss kernel or TensorFlow's CTCLoss."""
import pytest

from open_seq2seq.losses import ctc_kernel


@pytest.fixture(params=["kernel", "tensorflow"])
def ctc_path(request, monkeypatch):
  """Runs the test once with the CTC loss kernel (which must build here: the setup installs g++) and once with
  TensorFlow's CTCLoss (``JASPER_CTC_KERNEL=0``)."""
  monkeypatch.setenv(ctc_kernel.ENABLE_ENV, "1" if request.param == "kernel" else "0")
  ctc_kernel.LIBRARY.reset()
  if request.param == "kernel":
    assert ctc_kernel.LIBRARY.ops() is not None, "the CTC loss kernel did not build"
  yield request.param
  ctc_kernel.LIBRARY.reset()

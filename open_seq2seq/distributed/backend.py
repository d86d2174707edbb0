"""Which accelerator the run uses: Ascend NPU (npu_bridge), GPU (TensorFlow sees one) or CPU."""
import os

import tensorflow.compat.v1 as tf

from open_seq2seq.distributed.npu import npu_bridge_available

BACKENDS = ("npu", "gpu", "cpu")
BACKEND_VARIABLE = "JASPER_BACKEND"


def select_backend(environ=None):
  """"npu" when npu_bridge imports, else "gpu" when TensorFlow lists a GPU, else "cpu".

  JASPER_BACKEND (one of BACKENDS) forces a choice, e.g. "cpu" on a GPU machine; forcing a backend this
  machine lacks is an error rather than a silent fallback.
  """
  environ = os.environ if environ is None else environ
  forced = environ.get(BACKEND_VARIABLE, "").strip().lower()
  if not forced:
    if npu_bridge_available():
      return "npu"
    return "gpu" if _gpu_visible() else "cpu"
  if forced not in BACKENDS:
    raise ValueError("{}={!r}: expected one of {}".format(BACKEND_VARIABLE, environ[BACKEND_VARIABLE],
                                                         ", ".join(BACKENDS)))
  if forced == "npu" and not npu_bridge_available():
    raise ValueError("{}=npu but npu_bridge (Huawei's TensorFlow adapter) does not import".format(
        BACKEND_VARIABLE))
  if forced == "gpu" and not _gpu_visible():
    raise ValueError("{}=gpu but TensorFlow lists no GPU".format(BACKEND_VARIABLE))
  return forced


def _gpu_visible():
  return bool(tf.config.list_physical_devices("GPU"))

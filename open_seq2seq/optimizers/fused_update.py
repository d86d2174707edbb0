"""The fused NovoGrad update kernel (kernels/fused_novograd.cc): built on first use, loaded, or declined.

Op by op, one NovoGrad step of the main job's 47 weights with their moving averages and bfloat16 copies takes
about fifteen passes over the weights; ``JasperNovoGradApply`` does it in one, with bit-identical results
(its comment). Apex's FusedNovoGrad plays the same part for DeepLearningExamples' PyTorch Jasper.

The kernel is compiled with the system's C++ compiler (``$CXX``, else g++) and TensorFlow's compile flags for
this CPU (``-march=native``) into ``$JASPER_OPS_CACHE`` (default ``~/.cache/jasper-toolkit/ops``), under a name
that hashes the source, TensorFlow's version and flags, the compiler and the CPU, so another TensorFlow, compiler
or host builds its own copy. ``JASPER_FUSED_UPDATE=0`` turns it off. Where it cannot be built or loaded (no
compiler, a GPU or NPU build of TensorFlow), training uses the op-by-op update, after one line saying why.
"""
import hashlib
import os
import platform
import shutil
import subprocess
import sys

import tensorflow.compat.v1 as tf

from open_seq2seq.utils.atomic import atomic_output

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kernels", "fused_novograd.cc")
ENABLE_ENV = "JASPER_FUSED_UPDATE"
CACHE_ENV = "JASPER_OPS_CACHE"
BUILD_TIMEOUT_S = 600
# -ffp-contract=off: a fused multiply-add would round differently from TensorFlow's separate Mul and Add kernels.
CXX_FLAGS = ["-O3", "-march=native", "-ffp-contract=off", "-shared", "-fPIC"]

_state = {}


def _cpu_model():
  try:
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
      return "".join(line for line in cpuinfo if line.startswith(("model name", "flags")))
  except OSError:
    return platform.processor()


def _compiler_version(compiler):
  try:
    return subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=60).stdout
  except (OSError, subprocess.SubprocessError):
    return ""


def library_path(compiler):
  """Where the kernel built by ``compiler`` for this TensorFlow and CPU lives (built or not)."""
  with open(SOURCE, "rb") as source:
    key = hashlib.sha256(source.read())
  for part in [tf.__version__, *tf.sysconfig.get_compile_flags(), *tf.sysconfig.get_link_flags(), *CXX_FLAGS,
               _compiler_version(compiler), _cpu_model()]:
    key.update(part.encode("utf-8"))
  cache = os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "jasper-toolkit", "ops")
  return os.path.join(cache, "fused_novograd-{}.so".format(key.hexdigest()[:16]))


def build(compiler, path):
  """Compiles the kernel into ``path`` (atomically); raises RuntimeError with the compiler's last line."""
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with atomic_output(path) as tmp:
    command = [compiler, *CXX_FLAGS, *tf.sysconfig.get_compile_flags(), SOURCE, "-o", tmp,
               *tf.sysconfig.get_link_flags()]
    try:
      result = subprocess.run(command, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    except subprocess.TimeoutExpired as error:
      raise RuntimeError("{} did not finish in {} s".format(compiler, BUILD_TIMEOUT_S)) from error
    if result.returncode != 0:
      lines = [line for line in result.stderr.splitlines() if line.strip()]
      raise RuntimeError("{} failed (exit {}): {}".format(compiler, result.returncode,
                                                          lines[-1] if lines else "no message"))


def _load():
  if os.environ.get(ENABLE_ENV, "1") == "0":
    return None, "{}=0".format(ENABLE_ENV)
  if tf.test.is_built_with_cuda() or "npu_bridge" in sys.modules:
    return None, "the kernel is CPU-only and this TensorFlow places weights on accelerators"
  compiler = os.environ.get("CXX") or "g++"
  if shutil.which(compiler) is None:
    return None, "no C++ compiler ({} not found; set CXX)".format(compiler)
  path = library_path(compiler)
  try:
    if not os.path.exists(path):
      build(compiler, path)
    return tf.load_op_library(path), None
  except (RuntimeError, OSError, tf.errors.OpError) as error:
    return None, str(error).splitlines()[0] if str(error) else type(error).__name__


def fused_update_ops():
  """The loaded kernel module (``jasper_novo_grad_apply``), or None; the first call builds it if needed and,
  where it cannot, writes one line to stderr saying why and that the op-by-op update is used."""
  if "ops" not in _state:
    ops, reason = _load()
    _state["ops"] = ops
    if ops is None and os.environ.get(ENABLE_ENV, "1") != "0":
      sys.stderr.write("fused NovoGrad update unavailable ({}): using the op-by-op update\n".format(reason))
  return _state["ops"]


def can_fuse(optimizer, grads_and_vars):
  """True if ``optimizer`` (NovoGrad, or a wrapper around it) can apply ``grads_and_vars`` as the fused kernel."""
  check = getattr(optimizer, "can_fuse", None)
  return bool(check and check(grads_and_vars))


def reset():
  """Forgets the loaded kernel, so the next fused_update_ops() looks again (tests change the environment)."""
  _state.clear()

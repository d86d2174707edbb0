"""The project's C++ kernels: each compiled on first use, loaded, or declined with one line saying why.

A kernel is compiled with the system's C++ compiler (``$CXX``, else g++) and TensorFlow's compile flags for this
CPU (``-march=native``) into ``$JASPER_OPS_CACHE`` (default ``~/.cache/jasper-toolkit/ops``), under a name that
hashes the source, TensorFlow's version and flags, the compiler and the CPU, so another TensorFlow, compiler or
host builds its own copy. Its environment switch set to 0 turns it off. Where it cannot be built or loaded (no
compiler, a GPU or NPU build of TensorFlow), the caller falls back to TensorFlow's own ops.
"""
import hashlib
import os
import platform
import shutil
import subprocess
import sys

import tensorflow.compat.v1 as tf

from open_seq2seq.utils.atomic import atomic_output

CACHE_ENV = "JASPER_OPS_CACHE"
BUILD_TIMEOUT_S = 600
# -ffp-contract=off: a fused multiply-add would round differently from TensorFlow's separate Mul and Add kernels.
CXX_FLAGS = ["-O3", "-march=native", "-ffp-contract=off", "-shared", "-fPIC"]


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


class KernelLibrary:
  """One kernel source file: ``ops()`` is its loaded op module, or None after one stderr line.

  name: the library's file-name stem; source: the ``.cc`` path; enable_env: the switch (``0`` = off);
  what, fallback: the kernel and what runs instead, for the line printed when it is unavailable.
  """

  def __init__(self, name, source, enable_env, what, fallback):
    self.name, self.source, self.enable_env = name, source, enable_env
    self._what, self._fallback = what, fallback
    self._loaded = {}

  def library_path(self, compiler):
    """Where the kernel built by ``compiler`` for this TensorFlow and CPU lives (built or not)."""
    with open(self.source, "rb") as source:
      key = hashlib.sha256(source.read())
    for part in [tf.__version__, *tf.sysconfig.get_compile_flags(), *tf.sysconfig.get_link_flags(), *CXX_FLAGS,
                 _compiler_version(compiler), _cpu_model()]:
      key.update(part.encode("utf-8"))
    cache = os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "jasper-toolkit", "ops")
    return os.path.join(cache, "{}-{}.so".format(self.name, key.hexdigest()[:16]))

  def build(self, compiler, path):
    """Compiles the kernel into ``path`` (atomically); raises RuntimeError with the compiler's last line."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with atomic_output(path) as tmp:
      # The link flags must follow the source, or the linker drops the TensorFlow framework it needs.
      command = [compiler, *CXX_FLAGS, *tf.sysconfig.get_compile_flags(), self.source, "-o", tmp,
                 *tf.sysconfig.get_link_flags()]
      try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
      except subprocess.TimeoutExpired as error:
        raise RuntimeError("{} did not finish in {} s".format(compiler, BUILD_TIMEOUT_S)) from error
      if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        raise RuntimeError("{} failed (exit {}): {}".format(compiler, result.returncode,
                                                            lines[-1] if lines else "no message"))

  def _load(self):
    if os.environ.get(self.enable_env, "1") == "0":
      return None, "{}=0".format(self.enable_env)
    if tf.test.is_built_with_cuda() or "npu_bridge" in sys.modules:
      return None, "the kernel is CPU-only and this TensorFlow places the model on accelerators"
    compiler = os.environ.get("CXX") or "g++"
    if shutil.which(compiler) is None:
      return None, "no C++ compiler ({} not found; set CXX)".format(compiler)
    path = self.library_path(compiler)
    try:
      if not os.path.exists(path):
        self.build(compiler, path)
      return tf.load_op_library(path), None
    except (RuntimeError, OSError, tf.errors.OpError) as error:
      return None, str(error).splitlines()[0] if str(error) else type(error).__name__

  def ops(self):
    """The loaded op module, or None; the first call builds it if needed and, where it cannot, writes one line
    to stderr saying why and what is used instead."""
    if "ops" not in self._loaded:
      ops, reason = self._load()
      self._loaded["ops"] = ops
      if ops is None and os.environ.get(self.enable_env, "1") != "0":
        sys.stderr.write("{} unavailable ({}): using {}\n".format(self._what, reason, self._fallback))
    return self._loaded["ops"]

  def reset(self):
    """Forgets the loaded kernel, so the next ops() looks again (tests change the environment)."""
    self._loaded.clear()

"""The fused NovoGrad update kernel (kernels/fused_novograd.cc): built on first use, loaded, or declined.

Op by op, one NovoGrad step of the main job's 47 weights with their moving averages and bfloat16 copies takes
about fifteen passes over the weights; ``JasperNovoGradApply`` does it in one, with bit-identical results
(its comment). Apex's FusedNovoGrad plays the same part for DeepLearningExamples' PyTorch Jasper.

Built, cached and loaded by utils/custom_ops.py; ``JASPER_FUSED_UPDATE=0`` turns it off. Where it cannot be built
or loaded (no compiler, a GPU or NPU build of TensorFlow), training uses the op-by-op update, after one line
saying why.
"""
import os

from open_seq2seq.utils.custom_ops import CACHE_ENV, KernelLibrary

ENABLE_ENV = "JASPER_FUSED_UPDATE"
LIBRARY = KernelLibrary("fused_novograd", os.path.join(os.path.dirname(os.path.abspath(__file__)), "kernels",
                                                       "fused_novograd.cc"),
                        ENABLE_ENV, "fused NovoGrad update", "the op-by-op update")
__all__ = ["CACHE_ENV", "ENABLE_ENV", "LIBRARY", "can_fuse", "fused_update_ops", "library_path", "reset"]
library_path = LIBRARY.library_path
reset = LIBRARY.reset


def fused_update_ops():
  """The loaded kernel module (``jasper_novo_grad_apply``), or None (see KernelLibrary.ops)."""
  return LIBRARY.ops()


def can_fuse(optimizer, grads_and_vars):
  """True if ``optimizer`` (NovoGrad, or a wrapper around it) can apply ``grads_and_vars`` as the fused kernel."""
  check = getattr(optimizer, "can_fuse", None)
  return bool(check and check(grads_and_vars))

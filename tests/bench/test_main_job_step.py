"""bench/main_job_step.py's accounting: which part of a training step a traced node belongs to, and how a
step's CPU time is shared among the pipeline stages and the model's parts."""
import os

import pytest

from bench.main_job_step import MODEL_PARTS, model_part, step_shares


@pytest.mark.parametrize("name,op_type,part", [
    ("ForwardPass/w2l_encoder/conv11/convolution", "_MklNativeConv2D", "conv forward"),
    ("Loss_Optimization/gradients/ForwardPass/w2l_encoder/conv51/convolution_grad/Conv2DBackpropFilter",
     "_MklNativeConv2DBackpropFilter", "conv backward"),
    ("Loss_Optimization/gradients/ForwardPass/w2l_encoder/conv51/convolution_grad/Conv2DBackpropInput",
     "_MklNativeConv2DBackpropInput", "conv backward"),
    ("ForwardPass/Loss/ctc_loss/CTCLoss", "CTCLoss", "CTC loss"),
    ("ForwardPass/Loss/ctc_loss/JasperCtcLoss", "JasperCtcLoss", "CTC loss"),
    ("Loss_Optimization/check_gradients/JasperGradientFlags", "JasperGradientFlags", "weight update"),
    ("Loss_Optimization/gradients/ForwardPass/w2l_encoder/conv61_1/bn/FusedBatchNormV3_grad/FusedBatchNormGradV3",
     "_MklNativeFusedBatchNormGradV3", "batch norm"),
    ("IteratorGetNext", "IteratorGetNext", "waiting for input"),
    # NovoGrad's update, the mixed-precision checks and master copies, the moving averages
    ("Loss_Optimization/skip_non_finite_step/else/_424/NovoGrad/update_w/ResourceApplyMomentum",
     "ResourceApplyMomentum", "weight update"),
    ("Loss_Optimization/check_grads/IsNan_3", "IsNan", "weight update"),
    ("Loss_Optimization/FP32-master-copy/Cast_27", "Cast", "weight update"),
    ("ForwardPass/w2l_encoder/conv11/kernel/ExponentialMovingAverage/AssignMovingAvg", "AssignSubVariableOp",
     "weight update"),
    # gradients of elementwise ops and the forward pass's own elementwise ops are neither
    ("Loss_Optimization/gradients/ForwardPass/w2l_encoder/conv11/Relu_grad/ReluGrad", "ReluGrad", "other ops"),
    ("ForwardPass/w2l_encoder/conv11/mul", "Mul", "other ops"),
])
def test_model_part(name, op_type, part):
  assert model_part(name, op_type) == part
  assert part in MODEL_PARTS


def test_step_shares_split_the_step_cpu():
  """0.5 s of CPU per step, 0.2 s of it the pipeline (0.15 s in its stages); the model's 0.3 s split 2:1."""
  stages = {"read": 0.05, "features (VTLP, dither)": 0.1}
  shares = step_shares(0.5, 0.2, stages, {"conv forward": 0.04, "CTC loss": 0.02})
  assert shares == pytest.approx({"read": 0.05, "features (VTLP, dither)": 0.1, "tf.data and batching": 0.05,
                                  "conv forward": 0.2, "CTC loss": 0.1})
  assert sum(shares.values()) == pytest.approx(0.5)


def test_step_shares_never_negative():
  """Stages that add up to more than the pipeline-alone run (timer noise) leave no negative rest, and a step
  measured below the pipeline's CPU leaves the model nothing rather than less."""
  shares = step_shares(0.1, 0.2, {"read": 0.25}, {"conv forward": 1.0})
  assert shares["tf.data and batching"] == 0.0
  assert shares["conv forward"] == 0.0


@pytest.mark.parametrize("flag,value", [("--rounds", "0"), ("--utterances", "0"), ("--steps", "-1"),
                                        ("--warmup", "-1"), ("--variants", "main_job,fast")])
def test_bad_counts_and_variants_are_refused_by_name(flag, value, capsys):
  from bench.main_job_step import main
  with pytest.raises(SystemExit) as exit_info:
    main([flag + "=" + value])
  assert exit_info.value.code == 2
  assert flag.lstrip("-") in capsys.readouterr().err


def test_the_op_by_op_variant_builds_without_the_fused_kernel_and_restores_the_environment(monkeypatch):
  from bench.main_job_step import update_path
  from open_seq2seq.optimizers import fused_update
  monkeypatch.setenv(fused_update.ENABLE_ENV, "1")
  with update_path("main_job_op_by_op_update"):
    assert fused_update.fused_update_ops() is None
  with update_path("main_job"):
    assert fused_update.fused_update_ops() is not None
  assert os.environ[fused_update.ENABLE_ENV] == "1"


@pytest.mark.parametrize("flags,dtype", [("fpu avx2 fma", "float32"), ("avx512f avx512_bf16", "bfloat16"),
                                         ("avx512f amx_bf16 amx_tile", "bfloat16")])
def test_the_default_precision_is_the_main_jobs_choice_for_the_cpu(flags, dtype, tmp_path):
  """scripts/run_mini_demo.sh trains in bfloat16 only where the CPU has AVX512-BF16 or AMX."""
  from bench.main_job_step import main_job_dtype
  cpuinfo = tmp_path / "cpuinfo"
  cpuinfo.write_text("processor\t: 0\nflags\t\t: {}\n".format(flags))
  assert main_job_dtype(str(cpuinfo)) == dtype
  assert main_job_dtype(str(tmp_path / "missing")) == "float32"

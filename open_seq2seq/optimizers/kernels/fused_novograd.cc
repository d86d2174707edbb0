// One pass over a layer's weights for the whole NovoGrad step of the training loop: the normalised gradient with
// weight decay, the momentum update, the moving average of the weights and the reduced-precision copy.
//
// Op by op (optimizers/novograd.py on tf.train.MomentumOptimizer, optimizers/ema.py, optimizers/mp_wrapper.py)
// the same step reads and writes every weight about fifteen times; this kernel computes each element with the
// same float32 operations in the same order, so both paths give bit-identical weights. Built on first use by
// optimizers/fused_update.py (g++, TensorFlow's compile flags, -ffp-contract=off so no multiply-add is fused).

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/resource_mgr.h"
#include "tensorflow/core/framework/resource_var.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/platform/mutex.h"

namespace jasper {

using tensorflow::DataType;
using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Status;
using tensorflow::Tensor;
using tensorflow::Var;
using tensorflow::core::RefCountPtr;

REGISTER_OP("JasperNovoGradApply")
    .Input("var: resource")
    .Input("accum: resource")
    .Input("grad: float")
    .Input("grad_scale: float")
    .Input("lr: float")
    .Input("momentum: float")
    .Input("weight_decay: float")
    .Input("grad_averaging_factor: float")
    .Input("averages: num_averages * resource")
    .Input("average_decay: float")
    .Input("copies: num_copies * resource")
    .Attr("num_averages: int >= 0")
    .Attr("num_copies: int >= 0")
    .Attr("copy_dtype: {bfloat16, half} = DT_BFLOAT16")
    .Attr("use_weight_decay: bool")
    .Attr("grad_averaging: bool")
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext*) { return Status(); })
    .Doc(R"doc(
NovoGrad's momentum step on float32 weights, with the moving averages and reduced-precision copies of them.

Per element, in float32 and in this order:
  g = grad * grad_scale  [+ weight_decay * var]  [* grad_averaging_factor]
  accum = accum * momentum + g;  var = var - accum * lr
  average = average - (average - var) * (1 - average_decay)   (each of `averages`)
  copy = saturate_cast<copy_dtype>(var)                         (each of `copies`)
grad_scale is 1 / sqrt(v_t + epsilon) of the layer's second moment v_t.
)doc");

namespace {

// The variable's tensor, ready to be written in place: a buffer that other tensors still share (a read of the
// variable that is still alive) is copied first, as TensorFlow's own training ops do.
Status WritableTensor(OpKernelContext* ctx, Var* var, DataType dtype, const char* what, Tensor** out) {
  Tensor* tensor = var->tensor();
  if (!tensor->IsInitialized()) {
    return tensorflow::errors::FailedPrecondition("JasperNovoGradApply: ", what, " is not initialized");
  }
  if (tensor->dtype() != dtype) {
    return tensorflow::errors::InvalidArgument("JasperNovoGradApply: ", what, " has dtype ",
                                               tensorflow::DataTypeString(tensor->dtype()), ", expected ",
                                               tensorflow::DataTypeString(dtype));
  }
  if (!tensor->RefCountIsOne() || var->copy_on_read_mode.load()) {
    Tensor copy;
    TF_RETURN_IF_ERROR(ctx->allocate_temp(dtype, tensor->shape(), &copy));
    std::memcpy(copy.data(), tensor->data(), tensor->TotalBytes());
    *tensor = copy;
  }
  *out = tensor;
  return Status();
}

template <typename Copy>
Copy SaturateCast(float value) {
  // tf.saturate_cast: clamp to the target's finite range, then round to nearest even.
  const float high = static_cast<float>(Eigen::NumTraits<Copy>::highest());
  return static_cast<Copy>(std::min(std::max(value, -high), high));
}

}  // namespace

class NovoGradApplyOp : public OpKernel {
 public:
  explicit NovoGradApplyOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("num_averages", &num_averages_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("num_copies", &num_copies_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("copy_dtype", &copy_dtype_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("use_weight_decay", &use_weight_decay_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("grad_averaging", &grad_averaging_));
  }

  void Compute(OpKernelContext* ctx) override {
    // Inputs: var, accum, grad, 5 scalars, averages..., average_decay, copies...
    const int averages_start = 8;
    const int decay_index = averages_start + num_averages_;
    const int copies_start = decay_index + 1;
    std::vector<RefCountPtr<Var>> vars;
    vars.resize(2);
    OP_REQUIRES_OK(ctx, LookupResource(ctx, HandleFromInput(ctx, 0), &vars[0]));
    OP_REQUIRES_OK(ctx, LookupResource(ctx, HandleFromInput(ctx, 1), &vars[1]));
    for (int i = 0; i < num_averages_; ++i) {
      vars.emplace_back();
      OP_REQUIRES_OK(ctx, LookupResource(ctx, HandleFromInput(ctx, averages_start + i), &vars.back()));
    }
    for (int i = 0; i < num_copies_; ++i) {
      vars.emplace_back();
      OP_REQUIRES_OK(ctx, LookupResource(ctx, HandleFromInput(ctx, copies_start + i), &vars.back()));
    }
    // Locked in input order: nothing else locks more than one of these at a time.
    using Lock = tensorflow::mutex_lock;
    std::vector<std::unique_ptr<Lock>> locks;
    for (auto& var : vars) locks.emplace_back(new Lock(*var->mu()));

    Tensor *weights, *accum;
    OP_REQUIRES_OK(ctx, WritableTensor(ctx, vars[0].get(), tensorflow::DT_FLOAT, "var", &weights));
    OP_REQUIRES_OK(ctx, WritableTensor(ctx, vars[1].get(), tensorflow::DT_FLOAT, "accum", &accum));
    const Tensor& grad = ctx->input(2);
    OP_REQUIRES(ctx, weights->shape().IsSameSize(accum->shape()) && weights->shape().IsSameSize(grad.shape()),
                tensorflow::errors::InvalidArgument("JasperNovoGradApply: var ", weights->shape().DebugString(),
                                                    ", accum ", accum->shape().DebugString(), " and grad ",
                                                    grad.shape().DebugString(), " must have the same shape"));
    std::vector<float*> averages;
    for (int i = 0; i < num_averages_; ++i) {
      Tensor* average;
      OP_REQUIRES_OK(ctx, WritableTensor(ctx, vars[2 + i].get(), tensorflow::DT_FLOAT, "average", &average));
      OP_REQUIRES(ctx, average->shape().IsSameSize(weights->shape()),
                  tensorflow::errors::InvalidArgument("JasperNovoGradApply: average shape ",
                                                      average->shape().DebugString(), " differs from var's"));
      averages.push_back(average->flat<float>().data());
    }
    std::vector<void*> copies;
    for (int i = 0; i < num_copies_; ++i) {
      Tensor* copy;
      OP_REQUIRES_OK(ctx, WritableTensor(ctx, vars[2 + num_averages_ + i].get(), copy_dtype_, "copy", &copy));
      OP_REQUIRES(ctx, copy->shape().IsSameSize(weights->shape()),
                  tensorflow::errors::InvalidArgument("JasperNovoGradApply: copy shape ",
                                                      copy->shape().DebugString(), " differs from var's"));
      copies.push_back(copy->data());
    }
    for (int index = 3; index < 8; ++index) {
      OP_REQUIRES(ctx, tensorflow::TensorShapeUtils::IsScalar(ctx->input(index).shape()),
                  tensorflow::errors::InvalidArgument("JasperNovoGradApply: input ", index, " must be a scalar"));
    }
    const float grad_scale = ctx->input(3).scalar<float>()();
    const float lr = ctx->input(4).scalar<float>()();
    const float momentum = ctx->input(5).scalar<float>()();
    const float weight_decay = ctx->input(6).scalar<float>()();
    const float averaging_factor = ctx->input(7).scalar<float>()();
    const float decay_complement = 1.0f - ctx->input(decay_index).scalar<float>()();

    float* w = weights->flat<float>().data();
    float* m = accum->flat<float>().data();
    const float* g = grad.flat<float>().data();
    const bool use_weight_decay = use_weight_decay_, grad_averaging = grad_averaging_;
    const bool bfloat16_copies = copy_dtype_ == tensorflow::DT_BFLOAT16;
    auto update = [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        float step = g[i] * grad_scale;
        if (use_weight_decay) step = step + weight_decay * w[i];
        if (grad_averaging) step = step * averaging_factor;
        m[i] = m[i] * momentum + step;
        w[i] = w[i] - m[i] * lr;
      }
      for (float* average : averages) {
        for (int64_t i = begin; i < end; ++i) average[i] = average[i] - (average[i] - w[i]) * decay_complement;
      }
      for (void* copy : copies) {
        if (bfloat16_copies) {
          auto* out = static_cast<Eigen::bfloat16*>(copy);
          for (int64_t i = begin; i < end; ++i) out[i] = SaturateCast<Eigen::bfloat16>(w[i]);
        } else {
          auto* out = static_cast<Eigen::half*>(copy);
          for (int64_t i = begin; i < end; ++i) out[i] = SaturateCast<Eigen::half>(w[i]);
        }
      }
    };
    const int64_t size = weights->NumElements();
    // Blocks of 4096 elements keep each block's rows in the L1/L2 cache across the three loops.
    const int64_t block = 4096;
    auto* workers = ctx->device()->tensorflow_cpu_worker_threads()->workers;
    workers->ParallelFor((size + block - 1) / block, 16 * block, [&](int64_t first, int64_t last) {
      for (int64_t b = first; b < last; ++b) update(b * block, std::min((b + 1) * block, size));
    });
  }

 private:
  int num_averages_ = 0, num_copies_ = 0;
  DataType copy_dtype_ = tensorflow::DT_BFLOAT16;
  bool use_weight_decay_ = false, grad_averaging_ = false;
};

REGISTER_KERNEL_BUILDER(Name("JasperNovoGradApply").Device(tensorflow::DEVICE_CPU), NovoGradApplyOp);

}  // namespace jasper

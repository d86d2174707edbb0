// ReLU of a Jasper sub-block followed by the time mask of the next layer's input, and its gradient, each in one
// pass over the activations.
//
// Op by op (parts/conv_block.py, encoders/tdnn_encoder.py with use_conv_mask) training runs Relu, then Mul by
// the [B, T, 1] mask, and back through Mul and ReluGrad: four passes over [B, T, C] tensors in Eigen's bfloat16
// arithmetic. With the mask's values 0 or 1 (tf.sequence_mask) both kernels give the same bits as those ops:
// forward, max(x, 0) where the mask is 1 (NaN and -0 as Relu gives them) and +0 where it is 0; backward,
// dy * (y > 0 ? 1 : 0), so a NaN or infinite dy still spreads as NaN through the zeros.
// Built on first use by parts/masked_relu.py.

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace jasper {

using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Status;
using tensorflow::Tensor;
using tensorflow::shape_inference::InferenceContext;

REGISTER_OP("JasperMaskedRelu")
    .Input("features: T")
    .Input("mask: T")
    .Output("activations: T")
    .Attr("T: {float, bfloat16}")
    .SetShapeFn([](InferenceContext* c) {
      c->set_output(0, c->input(0));
      return Status();
    })
    .Doc(R"doc(
activations = relu(features) * mask for features [B, T, C] and a mask [B, T, 1] of 0s and 1s.
)doc");

REGISTER_OP("JasperMaskedReluGrad")
    .Input("gradients: T")
    .Input("activations: T")
    .Output("backprops: T")
    .Attr("T: {float, bfloat16}")
    .SetShapeFn([](InferenceContext* c) {
      c->set_output(0, c->input(0));
      return Status();
    })
    .Doc(R"doc(
backprops = gradients * (activations > 0): the gradient of JasperMaskedRelu with respect to its features.
)doc");

namespace {

// Element types as float, and back for values that are exactly representable (no rounding needed).
inline float ToFloat(float value) { return value; }
inline float ToFloat(Eigen::bfloat16 value) {
  uint16_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  const uint32_t wide = static_cast<uint32_t>(bits) << 16;
  float out;
  std::memcpy(&out, &wide, sizeof(out));
  return out;
}
template <typename T>
T FromExactFloat(float value);
template <>
inline float FromExactFloat<float>(float value) { return value; }
template <>
inline Eigen::bfloat16 FromExactFloat<Eigen::bfloat16>(float value) {
  uint32_t wide;
  std::memcpy(&wide, &value, sizeof(wide));
  const uint16_t bits = static_cast<uint16_t>(wide >> 16);
  Eigen::bfloat16 out;
  std::memcpy(&out, &bits, sizeof(out));
  return out;
}

template <typename T>
constexpr bool kNegativeZeroPasses = std::is_same<T, Eigen::bfloat16>::value;

// Rows of `channels` elements per worker call; blocks of rows keep the work units large enough to share out.
template <typename Work>
void ParallelRows(OpKernelContext* ctx, int64_t rows, int64_t channels, Work work) {
  auto* workers = ctx->device()->tensorflow_cpu_worker_threads()->workers;
  workers->ParallelFor(rows, std::max<int64_t>(1, channels) * 2, [&](int64_t first, int64_t last) {
    for (int64_t row = first; row < last; ++row) work(row);
  });
}

}  // namespace

template <typename T>
class MaskedReluOp : public OpKernel {
 public:
  explicit MaskedReluOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    const Tensor& features = ctx->input(0);
    const Tensor& mask = ctx->input(1);
    using tensorflow::errors::InvalidArgument;
    OP_REQUIRES(ctx, features.dims() == 3,
                InvalidArgument("JasperMaskedRelu: features must be [B, T, C], got ", features.shape().DebugString()));
    OP_REQUIRES(ctx, mask.dims() == 3 && mask.dim_size(0) == features.dim_size(0) &&
                         mask.dim_size(1) == features.dim_size(1) && mask.dim_size(2) == 1,
                InvalidArgument("JasperMaskedRelu: mask must be [B, T, 1] = [", features.dim_size(0), ", ",
                                features.dim_size(1), ", 1] for features ", features.shape().DebugString(), ", got ",
                                mask.shape().DebugString()));
    Tensor* activations;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, features.shape(), &activations));
    const int64_t channels = features.dim_size(2);
    const T* x = features.flat<T>().data();
    const T* m = mask.flat<T>().data();
    T* y = activations->flat<T>().data();
    ParallelRows(ctx, features.dim_size(0) * features.dim_size(1), channels, [&](int64_t row) {
      const T* in = x + row * channels;
      T* out = y + row * channels;
      if (ToFloat(m[row]) == 0.0f) {
        for (int64_t c = 0; c < channels; ++c) out[c] = FromExactFloat<T>(0.0f);
        return;
      }
      for (int64_t c = 0; c < channels; ++c) {
        const float value = ToFloat(in[c]);
        // A NaN passes, as through TensorFlow's Relu; -0 becomes +0 in its vectorised float32 kernel and stays
        // -0 in its bfloat16 one.
        const bool zero = kNegativeZeroPasses<T> ? value < 0.0f : value <= 0.0f;
        out[c] = FromExactFloat<T>(zero ? 0.0f : value);
      }
    });
  }
};

template <typename T>
class MaskedReluGradOp : public OpKernel {
 public:
  explicit MaskedReluGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    const Tensor& gradients = ctx->input(0);
    const Tensor& activations = ctx->input(1);
    OP_REQUIRES(ctx, gradients.shape() == activations.shape(),
                tensorflow::errors::InvalidArgument("JasperMaskedReluGrad: gradients ",
                                                    gradients.shape().DebugString(), " and activations ",
                                                    activations.shape().DebugString(), " must have the same shape"));
    Tensor* backprops;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, gradients.shape(), &backprops));
    const int64_t channels = gradients.dims() > 0 ? gradients.dim_size(gradients.dims() - 1) : 1;
    const int64_t rows = channels > 0 ? gradients.NumElements() / channels : 0;
    const T* dy = gradients.flat<T>().data();
    const T* y = activations.flat<T>().data();
    T* dx = backprops->flat<T>().data();
    ParallelRows(ctx, rows, channels, [&](int64_t row) {
      const int64_t offset = row * channels;
      for (int64_t c = 0; c < channels; ++c) {
        // A product with 1 or 0 is exact (dy, a signed zero or NaN), so no rounding back is needed.
        const float keep = ToFloat(y[offset + c]) > 0.0f ? 1.0f : 0.0f;
        dx[offset + c] = FromExactFloat<T>(ToFloat(dy[offset + c]) * keep);
      }
    });
  }
};

#define REGISTER(T)                                                                                  \
  REGISTER_KERNEL_BUILDER(Name("JasperMaskedRelu").Device(tensorflow::DEVICE_CPU).TypeConstraint<T>("T"), \
                          MaskedReluOp<T>);                                                          \
  REGISTER_KERNEL_BUILDER(                                                                           \
      Name("JasperMaskedReluGrad").Device(tensorflow::DEVICE_CPU).TypeConstraint<T>("T"),            \
      MaskedReluGradOp<T>);
REGISTER(float)
REGISTER(Eigen::bfloat16)
#undef REGISTER

}  // namespace jasper

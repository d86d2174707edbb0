// The training loop's two per-step checks of the gradients in one pass over them: whether the loss and every
// gradient are finite (optimize_loss skips the update otherwise) and whether every gradient is exactly zero
// (NonFiniteLossHook stops a run that cannot learn).
//
// Op by op each check is an IsFinite or Equal and an All per gradient, two passes over all of them plus a
// hundred small reductions. Here each element's bit pattern is tested (exponent all ones: Inf or NaN; exponent
// all zeros in float32 and bfloat16: +-0 or a subnormal, which TensorFlow's CPU threads flush to zero, so its
// Equal(g, 0) holds for them too; float16 is compared through float32, where its subnormals are normal numbers,
// so only +-0 counts), which is exactly what those ops compute. Built on first use by optimizers/gradient_flags.py.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace jasper {

using tensorflow::OpInputList;
using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Status;
using tensorflow::Tensor;

REGISTER_OP("JasperGradientFlags")
    .Input("loss: float")
    .Input("gradients: T")
    .Output("finite: bool")
    .Output("all_zero: bool")
    .Attr("T: list({float, bfloat16, half}) >= 0")
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      c->set_output(0, c->Scalar());
      c->set_output(1, c->Scalar());
      return Status();
    })
    .Doc(R"doc(
finite: every element of loss and of the gradients is finite.  all_zero: every gradient element is +-0, or a
float32 or bfloat16 subnormal (zero to TensorFlow's flushing CPU arithmetic); true when there are none.
)doc");

namespace {

struct Flags {
  bool nonfinite = false, nonzero = false;
};

// exponent: the mask of the element type's exponent bits; nonzero: the bits of which one set means "not 0".
template <typename Bits>
Flags Scan(const Bits* data, int64_t begin, int64_t end, Bits exponent, Bits nonzero) {
  Bits any = 0;
  bool nonfinite = false;
  for (int64_t i = begin; i < end; ++i) {
    nonfinite |= (data[i] & exponent) == exponent;
    any |= data[i] & nonzero;
  }
  Flags flags;
  flags.nonfinite = nonfinite;
  flags.nonzero = any != 0;
  return flags;
}

// A run of elements of one tensor: the unit of work shared among the threads.
struct Block {
  const void* data;
  tensorflow::DataType dtype;
  int64_t begin, end;
};

Flags ScanBlock(const Block& block) {
  switch (block.dtype) {
    case tensorflow::DT_FLOAT:
      return Scan(static_cast<const uint32_t*>(block.data), block.begin, block.end, uint32_t{0x7F800000u},
                  uint32_t{0x7F800000u});
    case tensorflow::DT_BFLOAT16:
      return Scan(static_cast<const uint16_t*>(block.data), block.begin, block.end, uint16_t{0x7F80u},
                  uint16_t{0x7F80u});
    default:  // DT_HALF
      return Scan(static_cast<const uint16_t*>(block.data), block.begin, block.end, uint16_t{0x7C00u},
                  uint16_t{0x7FFFu});
  }
}

}  // namespace

class GradientFlagsOp : public OpKernel {
 public:
  explicit GradientFlagsOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    const Tensor& loss = ctx->input(0);
    OpInputList gradients;
    OP_REQUIRES_OK(ctx, ctx->input_list("gradients", &gradients));
    // Blocks of 64 Ki elements: large enough that the scheduling is cheap, small enough to share out.
    const int64_t block_size = 1 << 16;
    std::vector<Block> blocks;
    auto add = [&](const Tensor& tensor) {
      const int64_t size = tensor.NumElements();
      for (int64_t begin = 0; begin < size; begin += block_size) {
        blocks.push_back({tensor.data(), tensor.dtype(), begin, std::min(size, begin + block_size)});
      }
    };
    for (int i = 0; i < gradients.size(); ++i) add(gradients[i]);
    const size_t gradient_blocks = blocks.size();
    add(loss);
    std::vector<Flags> results(blocks.size());
    auto* workers = ctx->device()->tensorflow_cpu_worker_threads()->workers;
    workers->ParallelFor(static_cast<int64_t>(blocks.size()), block_size, [&](int64_t first, int64_t last) {
      for (int64_t b = first; b < last; ++b) results[b] = ScanBlock(blocks[b]);
    });
    bool finite = true, all_zero = true;
    for (size_t b = 0; b < results.size(); ++b) {
      finite = finite && !results[b].nonfinite;
      if (b < gradient_blocks) all_zero = all_zero && !results[b].nonzero;
    }
    Tensor *finite_out, *zero_out;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, tensorflow::TensorShape({}), &finite_out));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, tensorflow::TensorShape({}), &zero_out));
    finite_out->scalar<bool>()() = finite;
    zero_out->scalar<bool>()() = all_zero;
  }
};

REGISTER_KERNEL_BUILDER(Name("JasperGradientFlags").Device(tensorflow::DEVICE_CPU), GradientFlagsOp);

}  // namespace jasper

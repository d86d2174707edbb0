// CTC loss of each utterance and its gradient with respect to the logits, in log space, vectorised over the
// states of the blank-extended label sequence l' (Graves' thesis, eq. 7.9, 7.15, 7.28).
//
// It computes what TensorFlow's CTCLoss (tensorflow/core/util/ctc/ctc_loss_calculator.h) computes with
// ctc_merge_repeated=True, preprocess_collapse_repeated=False and ignore_longer_outputs_than_inputs=True, and
// keeps its edge cases: an empty sequence or a label longer than the sequence gives loss 0 and gradient 0; a
// label no path can emit (too many repeats for its frames) gives loss +inf and the softmax as gradient. That op
// does every log-sum-exp one scalar at a time; here each time step's states go through Eigen's vectorised exp and
// log, with a finite stand-in for log(0) so that no -inf - -inf can appear. Differences from it: the emissions
// are log-softmax values (never log(0)), and any non-finite logit of an utterance makes its loss and gradient NaN.
// Built on first use by losses/ctc_kernel.py.

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "third_party/eigen3/Eigen/Core"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/util/work_sharder.h"

namespace jasper {

using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Status;
using tensorflow::Tensor;
using tensorflow::shape_inference::DimensionHandle;
using tensorflow::shape_inference::InferenceContext;
using tensorflow::shape_inference::ShapeHandle;

REGISTER_OP("JasperCtcLoss")
    .Input("logits: float")
    .Input("labels: int32")
    .Input("label_length: int32")
    .Input("sequence_length: int32")
    .Output("loss: float")
    .Output("gradient: float")
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle logits, labels, lengths;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 3, &logits));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 2, &labels));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(2), 1, &lengths));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(3), 1, &lengths));
      DimensionHandle batch;
      TF_RETURN_IF_ERROR(c->Merge(c->Dim(logits, 1), c->Dim(labels, 0), &batch));
      c->set_output(0, c->Vector(batch));
      c->set_output(1, logits);
      return Status();
    })
    .Doc(R"doc(
Per-utterance CTC loss -log p(labels | logits) and its gradient with respect to the logits; blank = last class.

logits: [T, B, V] time-major, unnormalised.  labels: [B, L] in [0, V - 2], the first label_length[b] of row b
used.  sequence_length: [B] frames of each utterance (<= T).  loss: [B].  gradient: [T, B, V], zero from
sequence_length[b] on: softmax(logits) minus the posterior of each class.
)doc");

namespace {

// log(0): finite, so that max and differences of two "zeros" stay finite; -1e30 + any log-probability of a
// realistic utterance is still below kInfeasible.
constexpr float kLogZero = -1e30f;
constexpr float kInfeasible = -5e29f;

using Array = Eigen::Array<float, Eigen::Dynamic, 1>;
using ArrayMap = Eigen::Map<Array>;
using ConstArrayMap = Eigen::Map<const Array>;

// out = log(exp(a) + exp(b) + exp(c)), element by element, shifted by the largest term (kept in m).
template <typename A, typename B, typename C>
void LogSumExp3(const A& a, const B& b, const C& c, ArrayMap m, ArrayMap out) {
  m = a.max(b).max(c);
  out = m + ((a - m).exp() + (b - m).exp() + (c - m).exp()).log();
}

// One utterance. logits(t, v) = logits[t * stride + v]; gradient likewise; both only for t < frames.
void Utterance(const float* logits, float* gradient, int64_t stride, int frames, int classes, const int* label,
               int label_length, float* loss) {
  if (frames == 0 || label_length > frames) {
    *loss = 0.0f;
    return;
  }
  for (int t = 0; t < frames; ++t) {
    for (int v = 0; v < classes; ++v) {
      if (!std::isfinite(logits[t * stride + v])) {
        *loss = std::numeric_limits<float>::quiet_NaN();
        for (int s = 0; s < frames; ++s) std::fill_n(gradient + s * stride, classes, *loss);
        return;
      }
    }
  }
  const int blank = classes - 1;
  const int states = 2 * label_length + 1;
  std::vector<int> extended(states, blank);
  for (int i = 0; i < label_length; ++i) extended[2 * i + 1] = label[i];

  // Every buffer is an Eigen array, aligned to 64 bytes: Eigen does the elements before a destination's first
  // aligned packet with scalar exp and log, whose last bit can differ from the vectorised ones, so the same
  // alignment on every run is what makes the results repeat bit for bit.
  // Softmax y and log-softmax of every frame, [frames, classes].
  Array y(static_cast<int64_t>(frames) * classes), log_y(y.size());
  for (int t = 0; t < frames; ++t) {
    ConstArrayMap x(logits + t * stride, classes);
    ArrayMap y_t(y.data() + t * classes, classes), log_y_t(log_y.data() + t * classes, classes);
    const float max_logit = x.maxCoeff();
    y_t = (x - max_logit).exp();
    const float sum = y_t.sum();
    y_t /= sum;
    log_y_t = x - (max_logit + std::log(sum));
  }
  // Emission log-probabilities of the states, [frames, states], and the additive mask of the skip from
  // state u - 2 (allowed into a label that differs from the label two states back).
  Array emission(static_cast<int64_t>(frames) * states);
  for (int t = 0; t < frames; ++t) {
    for (int u = 0; u < states; ++u) emission[t * states + u] = log_y[t * classes + extended[u]];
  }
  // skip[u + 2] is the mask into state u; two leading and two trailing log(0)s serve both directions.
  Array skip = Array::Constant(states + 4, kLogZero);
  for (int u = 2; u < states; ++u) {
    if (extended[u] != blank && extended[u] != extended[u - 2]) skip[u + 2] = 0.0f;
  }

  // alpha: [frames, 2 + states], two leading log(0)s per row stand in for states -1 and -2.
  const int width = states + 2;
  Array alpha = Array::Constant(static_cast<int64_t>(frames) * width, kLogZero);
  Array beta = Array::Constant(alpha.size(), kLogZero);
  Array scratch(states), shifted(states);
  alpha[2] = emission[0];
  if (states > 1) alpha[3] = emission[1];
  for (int t = 1; t < frames; ++t) {
    // States that can still reach the end and that the start can reach by now (as TensorFlow's op).
    const int lo = std::max(0, states - 2 * (frames - t)), hi = std::min(states, 2 * (t + 1));
    if (hi <= lo) continue;
    const int n = hi - lo;
    const float* prev = alpha.data() + (t - 1) * width + 2;
    shifted.head(n) = ConstArrayMap(prev + lo - 2, n) + ConstArrayMap(skip.data() + 2 + lo, n);
    ArrayMap out(alpha.data() + t * width + 2 + lo, n);
    LogSumExp3(ConstArrayMap(prev + lo, n), ConstArrayMap(prev + lo - 1, n), shifted.head(n),
               ArrayMap(scratch.data(), n), out);
    out += ConstArrayMap(emission.data() + t * states + lo, n);
  }
  // beta: [frames, states + 2], two trailing log(0)s per row stand in for states U and U + 1; beta(t, u) does
  // not include frame t's emission.
  Array next(width);
  beta[(frames - 1) * width + states - 1] = 0.0f;
  if (states > 1) beta[(frames - 1) * width + states - 2] = 0.0f;
  for (int t = frames - 2; t >= 0; --t) {
    const int lo = std::max(0, states - 2 * (frames - t)), hi = std::min(states, 2 * (t + 1));
    if (hi <= lo) continue;
    const int n = hi - lo;
    next.head(states) = ConstArrayMap(beta.data() + (t + 1) * width, states) +
                        ConstArrayMap(emission.data() + (t + 1) * states, states);
    next.tail(2).setConstant(kLogZero);
    shifted.head(n) = next.segment(lo + 2, n) + ConstArrayMap(skip.data() + 4 + lo, n);
    LogSumExp3(next.segment(lo, n), next.segment(lo + 1, n), shifted.head(n), ArrayMap(scratch.data(), n),
               ArrayMap(beta.data() + t * width + lo, n));
  }

  const float* last = alpha.data() + (frames - 1) * width + 2;
  const float a = last[states - 1], b = states > 1 ? last[states - 2] : kLogZero;
  const float log_p = std::max(a, b) + std::log1p(std::exp(-std::abs(a - b)));
  if (log_p < kInfeasible) {
    *loss = std::numeric_limits<float>::infinity();
    for (int t = 0; t < frames; ++t) std::copy_n(y.data() + t * classes, classes, gradient + t * stride);
    return;
  }
  *loss = -log_p;
  Array posterior(states);
  Array occupancy(classes);
  for (int t = 0; t < frames; ++t) {
    posterior = (ConstArrayMap(alpha.data() + t * width + 2, states) +
                 ConstArrayMap(beta.data() + t * width, states) - log_p).exp();
    // The posteriors of a frame sum to 1; dividing by their sum cancels the rounding that alpha + beta - log_p
    // (each ~1e3 on long utterances) leaves common to the frame.
    posterior /= posterior.sum();
    occupancy.setZero();
    for (int u = 0; u < states; ++u) occupancy[extended[u]] += posterior[u];
    for (int v = 0; v < classes; ++v) gradient[t * stride + v] = y[t * classes + v] - occupancy[v];
  }
}

}  // namespace

class CtcLossOp : public OpKernel {
 public:
  explicit CtcLossOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    const Tensor& logits = ctx->input(0);
    const Tensor& labels = ctx->input(1);
    const Tensor& label_length = ctx->input(2);
    const Tensor& sequence_length = ctx->input(3);
    using tensorflow::errors::InvalidArgument;
    OP_REQUIRES(ctx, logits.dims() == 3,
                InvalidArgument("JasperCtcLoss: logits must be [T, B, V], got ", logits.shape().DebugString()));
    const int64_t max_frames = logits.dim_size(0), batch = logits.dim_size(1), classes = logits.dim_size(2);
    OP_REQUIRES(ctx, classes >= 2, InvalidArgument("JasperCtcLoss: logits need at least 2 classes, got ", classes));
    OP_REQUIRES(ctx, labels.dims() == 2 && labels.dim_size(0) == batch,
                InvalidArgument("JasperCtcLoss: labels must be [B, L] with B = ", batch, ", got ",
                                labels.shape().DebugString()));
    OP_REQUIRES(ctx, label_length.shape() == tensorflow::TensorShape({batch}),
                InvalidArgument("JasperCtcLoss: label_length must be [", batch, "], got ",
                                label_length.shape().DebugString()));
    OP_REQUIRES(ctx, sequence_length.shape() == tensorflow::TensorShape({batch}),
                InvalidArgument("JasperCtcLoss: sequence_length must be [", batch, "], got ",
                                sequence_length.shape().DebugString()));
    const int64_t max_labels = labels.dim_size(1);
    const int* label = labels.flat<int>().data();
    const int* lengths = label_length.flat<int>().data();
    const int* frames = sequence_length.flat<int>().data();
    for (int64_t b = 0; b < batch; ++b) {
      OP_REQUIRES(ctx, frames[b] >= 0 && frames[b] <= max_frames,
                  InvalidArgument("JasperCtcLoss: sequence_length[", b, "] = ", frames[b], " is outside [0, ",
                                  max_frames, "]"));
      OP_REQUIRES(ctx, lengths[b] >= 0 && lengths[b] <= max_labels,
                  InvalidArgument("JasperCtcLoss: label_length[", b, "] = ", lengths[b], " is outside [0, ",
                                  max_labels, "]"));
      for (int i = 0; i < lengths[b]; ++i) {
        const int value = label[b * max_labels + i];
        OP_REQUIRES(ctx, value >= 0 && value < classes - 1,
                    InvalidArgument("JasperCtcLoss: labels[", b, ", ", i, "] = ", value,
                                    " is outside [0, ", classes - 2, "] (class ", classes - 1, " is the blank)"));
      }
    }
    Tensor *loss, *gradient;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, tensorflow::TensorShape({batch}), &loss));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, logits.shape(), &gradient));
    gradient->flat<float>().setZero();
    const float* x = logits.flat<float>().data();
    float* dx = gradient->flat<float>().data();
    float* out = loss->flat<float>().data();
    const int64_t stride = batch * classes;
    auto work = [&](int64_t first, int64_t last) {
      for (int64_t b = first; b < last; ++b) {
        Utterance(x + b * classes, dx + b * classes, stride, frames[b], classes, label + b * max_labels,
                  lengths[b], out + b);
      }
    };
    // Rough cost of one utterance: a few dozen operations per frame and state.
    const int64_t cost = std::max<int64_t>(1, max_frames * (2 * max_labels + 1 + classes) * 40);
    auto* workers = ctx->device()->tensorflow_cpu_worker_threads();
    tensorflow::Shard(workers->num_threads, workers->workers, batch, cost, work);
  }
};

REGISTER_KERNEL_BUILDER(Name("JasperCtcLoss").Device(tensorflow::DEVICE_CPU), CtcLossOp);

}  // namespace jasper

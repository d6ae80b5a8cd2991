#include "nn/losses.h"

#include <limits>

#include "kernels/cpu/loss_cpu.h"
#include "kernels/cpu/softmax_cpu.h"
#include "nn/layers/float_dispatch.h"

namespace nsal {

void Loss::fail(const std::string& what) const {
  throw ShapeError(name_ + ": " + what);
}

void Loss::check_input(Context& ctx, const Tensor& t, const char* what) const {
  if (t.device() != ctx.device())
    fail(std::string(what) + " is on " + t.device().str() + " but the context runs on " +
         ctx.device().str());
  if (t.dtype() != DType::f32 && t.dtype() != DType::f64)
    fail(std::string(what) + ": expected float32 or float64, got " + t.describe());
  if (!t.is_contiguous()) fail(std::string(what) + " " + t.describe() + " is not contiguous");
}

const Tensor& Loss::saved_input() const {
  if (!input_) fail("backward() without a forward()");
  return *input_;
}

CrossEntropyLoss::CrossEntropyLoss(CrossEntropyOptions opt)
    : Loss("CrossEntropyLoss"), opt_(std::move(opt)) {}

double CrossEntropyLoss::forward(Context& ctx, const Tensor& logits, const Tensor& target) {
  input_ = target_ = nullptr;
  check_input(ctx, logits, "logits");
  if (logits.ndim() < 2 || logits.dim(1) < 1)
    fail("expected logits (N, C) or (N, C, ...), got " + logits.describe());
  Shape expected = logits.shape();
  expected.erase(expected.begin() + 1);
  if (target.dtype() != DType::i32 || target.shape() != expected ||
      target.device() != logits.device() || !target.is_contiguous())
    fail("logits " + logits.describe() + " need int32 targets " + shape_str(expected) +
         " on the same device, got " + target.describe());
  const int64_t N = logits.dim(0), C = logits.dim(1), S = N > 0 ? target.numel() / N : 0;
  if (!opt_.class_weights.empty() && static_cast<int64_t>(opt_.class_weights.size()) != C)
    fail(std::to_string(opt_.class_weights.size()) + " class weights for " + std::to_string(C) +
         " classes (logits " + logits.describe() + ")");

  double loss_sum = 0;
  dispatch_cpu_float(name(), logits, [&](auto tag) {
    using T = decltype(tag);
    const int32_t* t = target.data<int32_t>();
    const int64_t bad = kernels::cpu::first_invalid_label(t, target.numel(), C, opt_.ignore_index);
    if (bad >= 0)
      fail("target label " + std::to_string(t[bad]) + " at index " + std::to_string(bad) +
           " (sample " + std::to_string(S > 0 ? bad / S : 0) + ") is out of range for " +
           std::to_string(C) + " classes [0, " + std::to_string(C - 1) + "] (ignore_index " +
           std::to_string(opt_.ignore_index) + ")");
    const T* w = nullptr;
    if (!opt_.class_weights.empty()) {
      weight_.resize({C}, logits.dtype(), Device::cpu(), "class weights");
      for (int64_t c = 0; c < C; ++c)
        weight_.data<T>()[c] = static_cast<T>(opt_.class_weights[c]);
      w = weight_.data<T>();
    }
    lse_.resize(target.shape(), DType::f64, logits.device(), "cross-entropy log-sum-exp");
    kernels::cpu::logsumexp_dim1(logits.data<T>(), lse_.data<double>(), N, C, S);
    double* scratch = ctx.workspace_as<double>(2 * kernels::cpu::reduction_chunks(N * S));
    kernels::cpu::cross_entropy_sums(logits.data<T>(), t, lse_.data<double>(), w, opt_.ignore_index,
                                     N, C, S, scratch, loss_sum, weight_sum_);
  });
  input_ = &logits;
  target_ = &target;
  return weight_sum_ != 0 ? loss_sum / weight_sum_ : std::numeric_limits<double>::quiet_NaN();
}

const Tensor& CrossEntropyLoss::backward(Context&, double grad_scale) {
  const Tensor& logits = saved_input();
  const int64_t N = logits.dim(0), C = logits.dim(1), S = N > 0 ? target_->numel() / N : 0;
  grad_.resize(logits.shape(), logits.dtype(), logits.device(), "loss gradient");
  const double scale = weight_sum_ != 0 ? grad_scale / weight_sum_ : 0.0;
  dispatch_cpu_float(name(), logits, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::cross_entropy_backward(logits.data<T>(), target_->data<int32_t>(),
                                         lse_.data<double>(),
                                         opt_.class_weights.empty() ? nullptr : weight_.data<T>(),
                                         opt_.ignore_index, N, C, S, scale, grad_.data<T>());
  });
  return grad_;
}

// The checks both regression losses share: same shape, dtype and device.
static void check_pair(const Loss& loss, const Tensor& input, const Tensor& target) {
  if (input.shape() != target.shape() || input.dtype() != target.dtype() ||
      input.device() != target.device())
    throw ShapeError(loss.name() + ": input " + input.describe() + " and target " +
                     target.describe() + " must match in shape, dtype and device");
  if (!target.is_contiguous())
    throw ShapeError(loss.name() + ": target " + target.describe() + " is not contiguous");
}

double MSELoss::forward(Context& ctx, const Tensor& input, const Tensor& target) {
  input_ = target_ = nullptr;
  check_input(ctx, input, "input");
  check_pair(*this, input, target);
  const int64_t n = input.numel();
  double sum = 0;
  dispatch_cpu_float(name(), input, [&](auto tag) {
    using T = decltype(tag);
    double* scratch = ctx.workspace_as<double>(kernels::cpu::reduction_chunks(n));
    sum = kernels::cpu::squared_error_sum(input.data<T>(), target.data<T>(), n, scratch);
  });
  input_ = &input;
  target_ = &target;
  return sum / static_cast<double>(n);
}

const Tensor& MSELoss::backward(Context&, double grad_scale) {
  const Tensor& input = saved_input();
  grad_.resize(input.shape(), input.dtype(), input.device(), "loss gradient");
  dispatch_cpu_float(name(), input, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::squared_error_backward(input.data<T>(), target_->data<T>(), input.numel(),
                                         grad_scale / static_cast<double>(input.numel()),
                                         grad_.data<T>());
  });
  return grad_;
}

double L1Loss::forward(Context& ctx, const Tensor& input, const Tensor& target) {
  input_ = target_ = nullptr;
  check_input(ctx, input, "input");
  check_pair(*this, input, target);
  const int64_t n = input.numel();
  double sum = 0;
  dispatch_cpu_float(name(), input, [&](auto tag) {
    using T = decltype(tag);
    double* scratch = ctx.workspace_as<double>(kernels::cpu::reduction_chunks(n));
    sum = kernels::cpu::absolute_error_sum(input.data<T>(), target.data<T>(), n, scratch);
  });
  input_ = &input;
  target_ = &target;
  return sum / static_cast<double>(n);
}

const Tensor& L1Loss::backward(Context&, double grad_scale) {
  const Tensor& input = saved_input();
  grad_.resize(input.shape(), input.dtype(), input.device(), "loss gradient");
  dispatch_cpu_float(name(), input, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::absolute_error_backward(input.data<T>(), target_->data<T>(), input.numel(),
                                          grad_scale / static_cast<double>(input.numel()),
                                          grad_.data<T>());
  });
  return grad_;
}

}  // namespace nsal

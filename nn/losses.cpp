#include "nn/losses.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/cpu/loss_cpu.h"
#include "kernels/cpu/softmax_cpu.h"
#include "kernels/cuda_ops.h"
#include "kernels/memory.h"
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

double* Loss::gpu_weight_sum(Device device) {
  gpu_result_.resize({2}, DType::f64, device, "loss result");
  return gpu_result_.data<double>();
}

float* Loss::gpu_loss() {
  // The float loss lives in the bytes of the second double (one read brings both back).
  return reinterpret_cast<float*>(gpu_result_.data<double>() + 1);
}

double Loss::loss_value() {
  if (loss_pending_) {
    double host[2];
    kernels::copy_bytes(host, false, gpu_result_.raw(), true, sizeof(host));
    float loss;
    std::memcpy(&loss, &host[1], sizeof(loss));
    loss_ = static_cast<double>(loss);
    loss_pending_ = false;
    check_gpu_loss(loss_);
  }
  return loss_;
}

CrossEntropyLoss::CrossEntropyLoss(CrossEntropyOptions opt)
    : Loss("CrossEntropyLoss"), opt_(std::move(opt)) {}

void CrossEntropyLoss::check_labels(const int32_t* t, int64_t n, int64_t C, int64_t S) const {
  const int64_t bad = kernels::cpu::first_invalid_label(t, n, C, opt_.ignore_index);
  if (bad >= 0)
    fail("target label " + std::to_string(t[bad]) + " at index " + std::to_string(bad) +
         " (sample " + std::to_string(S > 0 ? bad / S : 0) + ") is out of range for " +
         std::to_string(C) + " classes [0, " + std::to_string(C - 1) + "] (ignore_index " +
         std::to_string(opt_.ignore_index) + ")");
}

double CrossEntropyLoss::forward(Context& ctx, const Tensor& logits, const Tensor& target) {
  forward_async(ctx, logits, target);
  return loss_value();
}

void CrossEntropyLoss::forward_async(Context& ctx, const Tensor& logits, const Tensor& target) {
  input_ = target_ = nullptr;
  loss_pending_ = false;
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
  if (on_gpu(logits, [this] { return name(); })) {
    forward_gpu(ctx, logits, target);
    input_ = &logits;
    target_ = &target;
    return;
  }

  double loss_sum = 0;
  dispatch_cpu_float(name(), logits, [&](auto tag) {
    using T = decltype(tag);
    const int32_t* t = target.data<int32_t>();
    check_labels(t, target.numel(), C, S);
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
  loss_ = weight_sum_ != 0 ? loss_sum / weight_sum_ : std::numeric_limits<double>::quiet_NaN();
}

const Tensor& CrossEntropyLoss::backward(Context& ctx, double grad_scale) {
  const Tensor& logits = saved_input();
  const int64_t N = logits.dim(0), C = logits.dim(1), S = N > 0 ? target_->numel() / N : 0;
  grad_.resize(logits.shape(), logits.dtype(), logits.device(), "loss gradient");
  if (logits.device().is_cuda()) {
    backward_gpu(ctx, grad_scale);
    return grad_;
  }
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

template <typename F>
void Loss::regression_forward_gpu(Context& ctx, F reduce, const Tensor& input,
                                  const Tensor& target) {
  if (input.numel() == 0) {  // mean over nothing, as the CPU path: NaN
    loss_ = std::numeric_limits<double>::quiet_NaN();
    return;
  }
  gpu_weight_sum(input.device());  // allocates the result buffer once
  reduce(ctx.gpu(), input.numel(), input.data<float>(), target.data<float>(),
         kernels::gpu::Reduction::mean, gpu_loss());
  loss_pending_ = true;
}

double ElementwiseLoss::forward(Context& ctx, const Tensor& input, const Tensor& target) {
  forward_async(ctx, input, target);
  return loss_value();
}

void ElementwiseLoss::forward_async(Context& ctx, const Tensor& input, const Tensor& target) {
  input_ = target_ = nullptr;
  loss_pending_ = false;
  check_input(ctx, input, "input");
  check_pair(*this, input, target);
  const bool squared = kind_ == Kind::squared;
  const int64_t n = input.numel();
  if (on_gpu(input, [this] { return name(); })) {
    regression_forward_gpu(ctx, squared ? kernels::gpu::mse_forward : kernels::gpu::l1_forward,
                           input, target);
    input_ = &input;
    target_ = &target;
    return;
  }
  double sum = 0;
  dispatch_cpu_float(name(), input, [&](auto tag) {
    using T = decltype(tag);
    double* scratch = ctx.workspace_as<double>(kernels::cpu::reduction_chunks(n));
    const T* x = input.data<T>();
    const T* t = target.data<T>();
    sum = squared ? kernels::cpu::squared_error_sum(x, t, n, scratch)
                  : kernels::cpu::absolute_error_sum(x, t, n, scratch);
  });
  input_ = &input;
  target_ = &target;
  loss_ = sum / static_cast<double>(n);
}

const Tensor& ElementwiseLoss::backward(Context& ctx, double grad_scale) {
  const Tensor& input = saved_input();
  const bool squared = kind_ == Kind::squared;
  const int64_t n = input.numel();
  grad_.resize(input.shape(), input.dtype(), input.device(), "loss gradient");
  if (input.device().is_cuda()) {
    if (n > 0)
      (squared ? kernels::gpu::mse_backward : kernels::gpu::l1_backward)(
          ctx.gpu(), n, input.data<float>(), target_->data<float>(), kernels::gpu::Reduction::mean,
          static_cast<float>(grad_scale), grad_.data<float>());
    return grad_;
  }
  dispatch_cpu_float(name(), input, [&](auto tag) {
    using T = decltype(tag);
    const T* x = input.data<T>();
    const T* t = target_->data<T>();
    const double scale = grad_scale / static_cast<double>(n);
    if (squared)
      kernels::cpu::squared_error_backward(x, t, n, scale, grad_.data<T>());
    else
      kernels::cpu::absolute_error_backward(x, t, n, scale, grad_.data<T>());
  });
  return grad_;
}

}  // namespace nsal

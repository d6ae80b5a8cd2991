#include "nn/fuse.h"

#include <omp.h>

#include "kernels/bn_fold.h"
#include "kernels/cpu/activation_cpu.h"
#include "kernels/cpu/conv_cpu.h"
#include "kernels/cpu/elementwise_cpu.h"
#include "kernels/cuda_ops.h"
#include "nn/memory_plan.h"

namespace nsal {

void FoldScratch::reserve(int64_t weights, int64_t channels, Device device) {
  if (w.numel() < weights || w.device() != device)
    w.resize({weights}, DType::f32, device, "folded convolution weights");
  if (b.numel() < channels || b.device() != device)
    b.resize({channels}, DType::f32, device, "folded convolution bias");
}

void FoldScratch::reserve_bf16(int64_t weights, int64_t channels, Device device) {
  if (w16.numel() < weights || w16.device() != device)
    w16.resize({weights}, DType::bf16, device, "folded convolution weights, bf16");
  if (b16.numel() < channels || b16.device() != device)
    b16.resize({channels}, DType::bf16, device, "folded convolution bias, bf16");
}

ConvBnUnit::ConvBnUnit(ConvNd* conv, BatchNorm* bn) : conv_(conv), bn_(bn) {
  NSAL_CHECK(conv != nullptr && bn != nullptr, "fused conv + BatchNorm: null layer");
  if (!bn->options().affine || !bn->options().track_running_stats)
    fail("folding needs a BatchNorm with affine parameters and running statistics");
  if (bn->num_features() != conv->out_channels())
    fail("the BatchNorm has " + std::to_string(bn->num_features()) + " features, the convolution " +
         std::to_string(conv->out_channels()) + " channels");
}

void ConvBnUnit::fail(const std::string& what) const {
  throw ShapeError("fused " + conv_->type() + " '" + conv_->name() + "' + " + bn_->type() + " '" +
                   bn_->name() + "': " + what);
}

void ConvBnUnit::check_eval(Context& ctx, const Tensor& x, DType expected) const {
  if (conv_->training() || bn_->training())
    fail("the fused path runs in eval mode only (set_training(false)); training uses the layers");
  const Tensor& w = conv_->weight();
  if (w.raw() == nullptr) fail("parameters are not allocated (build the model's arena first)");
  if (w.dtype() != DType::f32) fail("the fused path folds float32 weights, got " + w.describe());
  if (x.dtype() != expected)
    fail(std::string("expected a ") + dtype_name(expected) + " input, got " + x.describe());
  if (x.device() != ctx.device() || w.device() != x.device())
    fail("input " + x.describe() + ", weight " + w.describe() + ", context on " +
         ctx.device().str() + ": all must agree");
  if (!x.is_contiguous()) fail("input " + x.describe() + " is not contiguous");
}

void ConvBnUnit::fold(Context& ctx, FoldScratch& scratch) const {
  const int64_t C = channels(), per_channel = weight_numel() / C;
  const Device device = conv_->weight().device();
  scratch.reserve(weight_numel(), C, device);
  float* wf = scratch.w.data<float>();
  float* bf = scratch.b.data<float>();
  const float* w = conv_->weight().data<float>();
  const float* conv_bias = conv_->has_bias() ? conv_->bias().data<float>() : nullptr;
  const float* gamma = bn_->weight().data<float>();
  const float* beta = bn_->bias().data<float>();
  const float* mean = bn_->running_mean().data<float>();
  const float* var = bn_->running_var().data<float>();
  const double eps = bn_->options().eps;
  if (device.is_cuda())
    kernels::gpu::bn_fold(ctx.gpu(), C, per_channel, w, conv_bias, gamma, beta, mean, var, eps, wf,
                          bf);
  else
    kernels::cpu::bn_fold(C, per_channel, w, conv_bias, gamma, beta, mean, var, eps, wf, bf);
}

const Tensor& ConvBnUnit::forward(Context& ctx, const Tensor& x, const Tensor* residual, bool relu,
                                  FoldScratch& scratch) {
  check_eval(ctx, x, DType::f32);
  const Shape ys = conv_->output_shape(x.shape());  // throws naming the convolution
  bn_->output_shape(ys);
  if (residual && (residual->shape() != ys || residual->dtype() != x.dtype() ||
                   residual->device() != x.device() || !residual->is_contiguous()))
    fail("residual " + residual->describe() + " does not match the output " + shape_str(ys));
  plan_output(ctx, {&x, residual}, y_, ys, DType::f32, x.device(), "fused conv output");
  fused_kernel_ = false;
  if (x.numel() == 0) return y_;

  fold(ctx, scratch);
  const float* wf = scratch.w.data<float>();
  const float* bf = scratch.b.data<float>();
  if (x.device().is_cuda()) {
    fused_kernel_ = kernels::gpu::conv_bias_act_forward(
        ctx.gpu(), conv_->conv_params(x.shape()), x.data<float>(), wf, bf,
        residual ? residual->data<float>() : nullptr, 1.f, relu, y_.data<float>());
    return y_;
  }
  const kernels::ConvShape s = conv_->conv_shape(x.shape());
  const size_t bytes = kernels::cpu::conv_workspace_bytes(s, sizeof(float), omp_get_max_threads());
  void* ws = bytes ? ctx.workspace(bytes) : nullptr;
  float* y = y_.data<float>();
  kernels::cpu::conv_forward<float>(s, x.data<float>(), wf, bf, y, ws, bytes);
  if (residual) kernels::cpu::add(y, residual->data<float>(), y, y_.numel());
  if (relu) kernels::cpu::relu_forward(y, y, y_.numel());
  return y_;
}

}  // namespace nsal

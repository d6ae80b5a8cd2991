#include "nn/layers/dropout.h"

#include "kernels/cpu/dropout_cpu.h"
#include "kernels/cuda_ops.h"
#include "kernels/dropout.h"
#include "nn/layers/float_dispatch.h"

namespace nsal {

Dropout::Dropout(std::string name, double p, uint64_t seed)
    : Layer("dropout", std::move(name)), p_(p), seed_(seed) {
  if (!(p >= 0.0 && p <= 1.0)) fail("probability p must lie in [0, 1], got " + std::to_string(p));
}

// Drops with scale 1 / (1 - p); p = 1 zeroes everything (scale unused).
template <typename T>
static void apply_mask(const T* src, T* dst, int64_t n, uint64_t seed, uint64_t step, double p) {
  const T scale = p < 1.0 ? static_cast<T>(1.0 / (1.0 - p)) : T(0);
  kernels::cpu::dropout_apply(src, dst, n, seed, step, kernels::dropout_threshold(p), scale);
}

void Dropout::forward_impl(Context& ctx, const Tensor& x, Tensor& y) {
  if (use_gpu(x)) {  // the same mask as the CPU: kernels/dropout.h
    const kernels::GpuExec ex = ctx.gpu();
    masked_ = active() && p_ != 0.0;
    if (!masked_) {
      kernels::gpu::copy(ex, y.raw(), x.raw(), x.nbytes());
      if (active()) mask_step_ = step_++;
      return;
    }
    mask_step_ = step_++;
    kernels::gpu::dropout_forward(ex, x.numel(), p_, seed_, mask_step_, x.data<float>(),
                                  y.data<float>());
    return;
  }
  dispatch_cpu_float(layer_label(type(), name()), x, [&](auto tag) {
    using T = decltype(tag);
    masked_ = active() && p_ != 0.0;
    if (!masked_) {
      y.copy_from(x);
      if (active()) mask_step_ = step_++;
      return;
    }
    mask_step_ = step_++;
    apply_mask(x.data<T>(), y.data<T>(), x.numel(), seed_, mask_step_, p_);
  });
}

void Dropout::backward_impl(Context& ctx, const Tensor& x, const Tensor&, const Tensor& dy,
                            Tensor* dx) {
  if (!dx) return;
  if (use_gpu(x)) {
    const kernels::GpuExec ex = ctx.gpu();
    if (!masked_)
      kernels::gpu::copy(ex, dx->raw(), dy.raw(), dy.nbytes());
    else
      kernels::gpu::dropout_backward(ex, dy.numel(), p_, seed_, mask_step_, dy.data<float>(),
                                     dx->data<float>());
    return;
  }
  dispatch_cpu_float(layer_label(type(), name()), x, [&](auto tag) {
    using T = decltype(tag);
    if (!masked_)  // the forward was the identity (eval mode or p = 0)
      dx->copy_from(dy);
    else
      apply_mask(dy.data<T>(), dx->data<T>(), dy.numel(), seed_, mask_step_, p_);
  });
}

}  // namespace nsal

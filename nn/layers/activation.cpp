#include "nn/layers/activation.h"

#include "kernels/cpu/activation_cpu.h"
#include "kernels/cuda_ops.h"
#include "nn/layers/float_dispatch.h"

namespace nsal {

// Both backends' backwards read the forward output y, not the input (dx = 0 where y <= 0, and for
// ReLU6 where y >= 6; the same mask as the test on x, kernels/activation.h), so that under a
// training memory plan the input (a BatchNorm's output, say) is freed after the forward.

void ReLU::forward_impl(Context& ctx, const Tensor& x, Tensor& y) {
  if (use_gpu(x)) {
    kernels::gpu::relu_forward(ctx.gpu(), x.numel(), x.data<float>(), y.data<float>());
    return;
  }
  dispatch_cpu_float(layer_label(type(), name()), x, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::relu_forward(x.data<T>(), y.data<T>(), x.numel());
  });
}

void ReLU::backward_impl(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                         Tensor* dx) {
  if (!dx) return;
  if (use_gpu(x)) {
    kernels::gpu::relu_backward(ctx.gpu(), x.numel(), y.data<float>(), dy.data<float>(),
                                dx->data<float>());
    return;
  }
  dispatch_cpu_float(layer_label(type(), name()), x, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::relu_backward(y.data<T>(), dy.data<T>(), dx->data<T>(), y.numel());
  });
}

void ReLU6::forward_impl(Context& ctx, const Tensor& x, Tensor& y) {
  if (use_gpu(x)) {
    kernels::gpu::relu6_forward(ctx.gpu(), x.numel(), x.data<float>(), y.data<float>());
    return;
  }
  dispatch_cpu_float(layer_label(type(), name()), x, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::relu6_forward(x.data<T>(), y.data<T>(), x.numel());
  });
}

void ReLU6::backward_impl(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                          Tensor* dx) {
  if (!dx) return;
  if (use_gpu(x)) {
    kernels::gpu::relu6_backward(ctx.gpu(), x.numel(), y.data<float>(), dy.data<float>(),
                                 dx->data<float>());
    return;
  }
  dispatch_cpu_float(layer_label(type(), name()), x, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::relu6_backward(y.data<T>(), dy.data<T>(), dx->data<T>(), y.numel());
  });
}

}  // namespace nsal

#include "nn/layers/activation.h"

#include "kernels/cpu/activation_cpu.h"
#include "kernels/cuda_ops.h"
#include "nn/layers/float_dispatch.h"

namespace nsal {

// The GPU backwards read the forward output y (dx = 0 where y <= 0, and for ReLU6 where y >= 6):
// the same mask as the CPU's test on x, since y <= 0 exactly where x <= 0 and y >= 6 where x >= 6.

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
    kernels::cpu::relu_backward(x.data<T>(), dy.data<T>(), dx->data<T>(), x.numel());
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
    kernels::cpu::relu6_backward(x.data<T>(), dy.data<T>(), dx->data<T>(), x.numel());
  });
}

}  // namespace nsal

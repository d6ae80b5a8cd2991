#include "nn/layers/activation.h"

#include "kernels/cpu/activation_cpu.h"
#include "nn/layers/float_dispatch.h"

namespace nsal {

void ReLU::forward_impl(Context&, const Tensor& x, Tensor& y) {
  dispatch_cpu_float(layer_label(type(), name()), x, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::relu_forward(x.data<T>(), y.data<T>(), x.numel());
  });
}

void ReLU::backward_impl(Context&, const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) {
  if (!dx) return;
  dispatch_cpu_float(layer_label(type(), name()), x, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::relu_backward(x.data<T>(), dy.data<T>(), dx->data<T>(), x.numel());
  });
}

void ReLU6::forward_impl(Context&, const Tensor& x, Tensor& y) {
  dispatch_cpu_float(layer_label(type(), name()), x, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::relu6_forward(x.data<T>(), y.data<T>(), x.numel());
  });
}

void ReLU6::backward_impl(Context&, const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) {
  if (!dx) return;
  dispatch_cpu_float(layer_label(type(), name()), x, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::relu6_backward(x.data<T>(), dy.data<T>(), dx->data<T>(), x.numel());
  });
}

}  // namespace nsal

#include "nn/layers/softmax.h"

#include "kernels/cpu/softmax_cpu.h"
#include "kernels/cuda_ops.h"
#include "nn/layers/float_dispatch.h"

namespace nsal {

Shape Softmax::output_shape(const Shape& in) const {
  if (in.size() < 2 || in[1] < 1)
    fail("expected input (N, C) or (N, C, ...) with C >= 1, got " + shape_str(in));
  return in;
}

static void dims(const Tensor& x, int64_t& N, int64_t& C, int64_t& S) {
  N = x.dim(0);
  C = x.dim(1);
  S = N * C > 0 ? x.numel() / (N * C) : 0;
}

void Softmax::forward_impl(Context& ctx, const Tensor& x, Tensor& y) {
  int64_t N, C, S;
  dims(x, N, C, S);
  if (use_gpu(x)) {
    if (x.numel() == 0) return;
    if (log_)
      kernels::gpu::log_softmax_forward(ctx.gpu(), N, C, S, x.data<float>(), y.data<float>());
    else
      kernels::gpu::softmax_forward(ctx.gpu(), N, C, S, x.data<float>(), y.data<float>());
    return;
  }
  dispatch_cpu_float(layer_label(type(), name()), x, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::softmax_forward(x.data<T>(), y.data<T>(), N, C, S, log_);
  });
}

void Softmax::backward_impl(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                            Tensor* dx) {
  if (!dx) return;
  int64_t N, C, S;
  dims(x, N, C, S);
  if (use_gpu(x)) {
    if (x.numel() == 0) return;
    if (log_)
      kernels::gpu::log_softmax_backward(ctx.gpu(), N, C, S, y.data<float>(), dy.data<float>(),
                                         dx->data<float>());
    else
      kernels::gpu::softmax_backward(ctx.gpu(), N, C, S, y.data<float>(), dy.data<float>(),
                                     dx->data<float>());
    return;
  }
  dispatch_cpu_float(layer_label(type(), name()), x, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::softmax_backward(y.data<T>(), dy.data<T>(), dx->data<T>(), N, C, S, log_);
  });
}

}  // namespace nsal

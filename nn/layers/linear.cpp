#include "nn/layers/linear.h"

#include "kernels/cpu/linear_cpu.h"
#include "kernels/cuda_ops.h"
#include "nn/layers/float_dispatch.h"

namespace nsal {

Linear::Linear(std::string name, int64_t in_features, int64_t out_features, bool bias)
    : Layer("linear", std::move(name)), in_(in_features), out_(out_features), has_bias_(bias) {
  if (in_features < 1 || out_features < 1)
    fail("in_features and out_features must be positive, got " + std::to_string(in_features) +
         " and " + std::to_string(out_features));
}

void Linear::declare(ParamArena& arena) {
  arena.add_param(prefixed("weight"), {out_, in_}, type(), ParamRole::weight, &weight_, &dweight_);
  if (has_bias_)
    arena.add_param(prefixed("bias"), {out_}, type(), ParamRole::bias, &bias_, &dbias_);
}

Shape Linear::output_shape(const Shape& in) const {
  if (in.empty() || in.back() != in_)
    fail("expected input (..., " + std::to_string(in_) + "), got " + shape_str(in));
  Shape out = in;
  out.back() = out_;
  return out;
}

void Linear::forward_impl(Context& ctx, const Tensor& x, Tensor& y) {
  check_param(x, weight_, "weight");
  if (has_bias_) check_param(x, bias_, "bias");
  const int64_t rows = x.numel() / in_;
  if (use_gpu(x)) {
    if (rows == 0) return;
    kernels::gpu::linear_forward(ctx.gpu(), rows, in_, out_, x.data<float>(), weight_.data<float>(),
                                 has_bias_ ? bias_.data<float>() : nullptr, y.data<float>());
    return;
  }
  dispatch_cpu_float(layer_label(type(), name()), x, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::linear_forward(x.data<T>(), weight_.data<T>(),
                                 has_bias_ ? bias_.data<T>() : nullptr, y.data<T>(), rows, in_,
                                 out_);
  });
}

void Linear::backward_impl(Context& ctx, const Tensor& x, const Tensor&, const Tensor& dy,
                           Tensor* dx) {
  const int64_t rows = x.numel() / in_;
  if (use_gpu(x)) {
    if (rows == 0) return;
    const kernels::GpuExec ex = ctx.gpu();
    if (dx)
      kernels::gpu::linear_backward_data(ex, rows, in_, out_, dy.data<float>(),
                                         weight_.data<float>(), dx->data<float>());
    kernels::gpu::linear_backward_weight(ex, rows, in_, out_, x.data<float>(), dy.data<float>(),
                                         dweight_.data<float>());
    if (has_bias_)
      kernels::gpu::linear_backward_bias(ex, rows, out_, dy.data<float>(), dbias_.data<float>());
    return;
  }
  dispatch_cpu_float(layer_label(type(), name()), x, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::linear_backward(x.data<T>(), weight_.data<T>(), dy.data<T>(),
                                  dx ? dx->data<T>() : nullptr, dweight_.data<T>(),
                                  has_bias_ ? dbias_.data<T>() : nullptr, rows, in_, out_);
  });
}

}  // namespace nsal

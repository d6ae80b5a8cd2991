#include "nn/layers/pool.h"

#include <climits>

#include "kernels/cpu/pool_cpu.h"
#include "kernels/cuda_ops.h"
#include "nn/layers/float_dispatch.h"

namespace nsal {

static std::string dims_str(const int* v, int n) {
  std::string s = "(";
  for (int i = 0; i < n; ++i)
    s += (i ? ", " : "") + std::to_string(v[i]);
  return s + ")";
}

Pool::Pool(std::string type, int spatial_dims, std::string name, PoolArg kernel, PoolArg stride,
           PoolArg padding)
    : Layer(std::move(type), std::move(name)), spatial_dims_(spatial_dims) {
  const int off = 3 - spatial_dims;
  auto expand = [&](const PoolArg& a, int* out, int fallback_from_kernel, const char* what) {
    for (int i = 0; i < 3; ++i)
      out[i] = i < off ? fallback_from_kernel : 0;
    if (a.v.empty()) {
      for (int i = off; i < 3; ++i)
        out[i] = k_[i];
      return;
    }
    if (a.v.size() != 1 && a.v.size() != static_cast<size_t>(spatial_dims))
      fail(std::string(what) + " needs 1 or " + std::to_string(spatial_dims) + " values, got " +
           std::to_string(a.v.size()));
    for (int i = off; i < 3; ++i)
      out[i] = a.v.size() == 1 ? a.v[0] : a.v[i - off];
  };
  if (kernel.v.empty()) fail("kernel size must be given");
  expand(kernel, k_, 1, "kernel size");
  expand(stride, s_, 1, "stride");
  expand(padding, p_, 0, "padding");
  for (int i = off; i < 3; ++i) {
    if (k_[i] < 1 || s_[i] < 1 || p_[i] < 0)
      fail("kernel " + dims_str(k_ + off, spatial_dims) + ", stride " +
           dims_str(s_ + off, spatial_dims) + ", padding " + dims_str(p_ + off, spatial_dims) +
           ": kernel and stride must be positive and padding non-negative");
    if (2 * p_[i] > k_[i])
      fail("padding " + dims_str(p_ + off, spatial_dims) + " must be at most half the kernel " +
           dims_str(k_ + off, spatial_dims));
  }
}

kernels::PoolGeom Pool::geometry_for(const Shape& in) const {
  const size_t rank = static_cast<size_t>(spatial_dims_) + 2;
  if (in.size() != rank)
    fail(std::string("expected input ") +
         (spatial_dims_ == 2 ? "(N, C, H, W)" : "(N, C, D, H, W)") + ", got " + shape_str(in));
  kernels::PoolGeom g;
  int64_t* ins[3] = {&g.in_d, &g.in_h, &g.in_w};
  int64_t* outs[3] = {&g.out_d, &g.out_h, &g.out_w};
  const int off = 3 - spatial_dims_;
  for (int i = off; i < 3; ++i) {
    *ins[i] = in[2 + i - off];
    *outs[i] = kernels::pool_output_size(*ins[i], k_[i], s_[i], p_[i]);
    if (*ins[i] < 1 || *outs[i] < 1)
      fail("input " + shape_str(in) + " is too small for kernel " +
           dims_str(k_ + off, spatial_dims_) + " with padding " +
           dims_str(p_ + off, spatial_dims_));
  }
  g.kd = k_[0], g.kh = k_[1], g.kw = k_[2];
  g.sd = s_[0], g.sh = s_[1], g.sw = s_[2];
  g.pd = p_[0], g.ph = p_[1], g.pw = p_[2];
  return g;
}

Shape Pool::output_shape(const Shape& in) const {
  kernels::PoolGeom g = geometry_for(in);
  if (spatial_dims_ == 2) return {in[0], in[1], g.out_h, g.out_w};
  return {in[0], in[1], g.out_d, g.out_h, g.out_w};
}

kernels::PoolParams Pool::pool_params(const Shape& in, kernels::PoolMode mode) const {
  for (int64_t d : in)
    if (d > INT_MAX)
      fail("input " + shape_str(in) + " is too large for the GPU backend (int sizes)");
  kernels::PoolParams p;
  p.spatial = spatial_dims_;
  p.n = static_cast<int>(in[0]);
  p.c = static_cast<int>(in[1]);
  const int off = 3 - spatial_dims_;
  for (int i = 0; i < spatial_dims_; ++i) {
    p.in[i] = static_cast<int>(in[2 + i]);
    p.kernel[i] = k_[off + i];
    p.stride[i] = s_[off + i];
    p.pad[i] = p_[off + i];
  }
  p.mode = mode;
  return p;
}

static const char* max_type(int d) {
  return d == 2 ? "maxpool2d" : "maxpool3d";
}
static const char* avg_type(int d) {
  return d == 2 ? "avgpool2d" : "avgpool3d";
}
static int checked_dims(int d) {
  if (d != 2 && d != 3)
    throw Error("pooling: spatial_dims must be 2 or 3, got " + std::to_string(d));
  return d;
}

MaxPool::MaxPool(int spatial_dims, std::string name, PoolArg kernel, PoolArg stride,
                 PoolArg padding)
    : Pool(max_type(checked_dims(spatial_dims)), spatial_dims, std::move(name), std::move(kernel),
           std::move(stride), std::move(padding)) {}

void MaxPool::forward_impl(Context& ctx, const Tensor& x, Tensor& y) {
  geom_ = geometry_for(x.shape());
  if (use_gpu(x)) {  // the GPU backward re-finds each maximum from x and y: no index tensor
    if (x.numel() == 0) return;
    kernels::gpu::pool_forward(ctx.gpu(), pool_params(x.shape(), kernels::PoolMode::max),
                               x.data<float>(), y.data<float>());
    return;
  }
  argmax_.resize(y.shape(), DType::i32, x.device(), "max-pool indices");
  dispatch_cpu_float(layer_label(type(), name()), x, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::max_pool_forward(x.data<T>(), planes(x.shape()), geom_, y.data<T>(),
                                   argmax_.data<int32_t>());
  });
}

void MaxPool::backward_impl(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                            Tensor* dx) {
  if (!dx) return;
  if (use_gpu(x)) {
    if (x.numel() == 0) return;
    kernels::gpu::pool_backward(ctx.gpu(), pool_params(x.shape(), kernels::PoolMode::max),
                                x.data<float>(), y.data<float>(), dy.data<float>(),
                                dx->data<float>());
    return;
  }
  dispatch_cpu_float(layer_label(type(), name()), x, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::max_pool_backward(dy.data<T>(), argmax_.data<int32_t>(), planes(x.shape()), geom_,
                                    dx->data<T>());
  });
}

AvgPool::AvgPool(int spatial_dims, std::string name, PoolArg kernel, PoolArg stride,
                 PoolArg padding, bool count_include_pad)
    : Pool(avg_type(checked_dims(spatial_dims)), spatial_dims, std::move(name), std::move(kernel),
           std::move(stride), std::move(padding)),
      count_include_pad_(count_include_pad) {}

static kernels::PoolMode avg_mode(bool count_include_pad) {
  return count_include_pad ? kernels::PoolMode::avg_include_pad
                           : kernels::PoolMode::avg_exclude_pad;
}

void AvgPool::forward_impl(Context& ctx, const Tensor& x, Tensor& y) {
  geom_ = geometry_for(x.shape());
  if (use_gpu(x)) {
    if (x.numel() == 0) return;
    kernels::gpu::pool_forward(ctx.gpu(), pool_params(x.shape(), avg_mode(count_include_pad_)),
                               x.data<float>(), y.data<float>());
    return;
  }
  dispatch_cpu_float(layer_label(type(), name()), x, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::avg_pool_forward(x.data<T>(), planes(x.shape()), geom_, count_include_pad_,
                                   y.data<T>());
  });
}

void AvgPool::backward_impl(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                            Tensor* dx) {
  if (!dx) return;
  if (use_gpu(x)) {
    if (x.numel() == 0) return;
    kernels::gpu::pool_backward(ctx.gpu(), pool_params(x.shape(), avg_mode(count_include_pad_)),
                                x.data<float>(), y.data<float>(), dy.data<float>(),
                                dx->data<float>());
    return;
  }
  dispatch_cpu_float(layer_label(type(), name()), x, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::avg_pool_backward(dy.data<T>(), planes(x.shape()), geom_, count_include_pad_,
                                    dx->data<T>());
  });
}

Shape GlobalAvgPool::output_shape(const Shape& in) const {
  if (in.size() < 3)
    fail("expected input (N, C, ...) with at least one spatial dimension, got " + shape_str(in));
  if (shape_numel(in) == 0 && in[0] * in[1] > 0)
    fail("input " + shape_str(in) + " has no spatial positions to average");
  return {in[0], in[1]};
}

void GlobalAvgPool::forward_impl(Context& ctx, const Tensor& x, Tensor& y) {
  const int64_t planes = x.dim(0) * x.dim(1);
  if (use_gpu(x)) {
    if (planes == 0) return;
    kernels::gpu::global_avg_pool_forward(ctx.gpu(), x.dim(0), x.dim(1), x.numel() / planes,
                                          x.data<float>(), y.data<float>());
    return;
  }
  dispatch_cpu_float(layer_label(type(), name()), x, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::global_avg_pool_forward(x.data<T>(), planes, planes ? x.numel() / planes : 0,
                                          y.data<T>());
  });
}

void GlobalAvgPool::backward_impl(Context& ctx, const Tensor& x, const Tensor&, const Tensor& dy,
                                  Tensor* dx) {
  if (!dx) return;
  const int64_t planes = x.dim(0) * x.dim(1);
  if (use_gpu(x)) {
    if (planes == 0) return;
    kernels::gpu::global_avg_pool_backward(ctx.gpu(), x.dim(0), x.dim(1), x.numel() / planes,
                                           dy.data<float>(), dx->data<float>());
    return;
  }
  dispatch_cpu_float(layer_label(type(), name()), x, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::global_avg_pool_backward(dy.data<T>(), planes, planes ? x.numel() / planes : 0,
                                           dx->data<T>());
  });
}

}  // namespace nsal

#include "nn/layers/conv.h"

#include <fmt/format.h>
#include <omp.h>

#include <climits>

#include "kernels/cpu/conv_cpu.h"
#include "kernels/cuda_ops.h"

namespace nsal {

ConvOptions ConvOptions::make2d(int64_t in, int64_t out, int64_t kernel, int64_t stride,
                                int64_t padding, int64_t dilation, int64_t groups, bool bias) {
  ConvOptions o;
  o.in_channels = in;
  o.out_channels = out;
  o.kernel = {1, kernel, kernel};
  o.stride = {1, stride, stride};
  o.padding = {0, padding, padding};
  o.dilation = {1, dilation, dilation};
  o.groups = groups;
  o.bias = bias;
  return o;
}

ConvOptions ConvOptions::make3d(int64_t in, int64_t out, int64_t kernel, int64_t stride,
                                int64_t padding, int64_t dilation, int64_t groups, bool bias) {
  ConvOptions o;
  o.in_channels = in;
  o.out_channels = out;
  o.kernel = {kernel, kernel, kernel};
  o.stride = {stride, stride, stride};
  o.padding = {padding, padding, padding};
  o.dilation = {dilation, dilation, dilation};
  o.groups = groups;
  o.bias = bias;
  return o;
}

static const char* const kDimName[3] = {"depth", "height", "width"};

ConvNd::ConvNd(int spatial, std::string name, const ConvOptions& options)
    : Layer(spatial == 3 ? "conv3d" : "conv2d", std::move(name)), spatial_(spatial), opt_(options) {
  auto bad = [this](const std::string& what) {
    throw Error(fmt::format("{} '{}': {}", type(), this->name(), what));
  };
  if (spatial != 2 && spatial != 3)
    bad(fmt::format("spatial dimensions must be 2 or 3, got {}", spatial));
  if (opt_.in_channels < 1 || opt_.out_channels < 1 || opt_.groups < 1)
    bad(fmt::format("channels and groups must be >= 1, got in {}, out {}, groups {}",
                    opt_.in_channels, opt_.out_channels, opt_.groups));
  if (opt_.in_channels % opt_.groups != 0 || opt_.out_channels % opt_.groups != 0)
    bad(fmt::format("in channels {} and out channels {} must both divide by groups {}",
                    opt_.in_channels, opt_.out_channels, opt_.groups));
  for (int i = 0; i < 3; ++i)
    if (opt_.kernel[i] < 1 || opt_.stride[i] < 1 || opt_.dilation[i] < 1 || opt_.padding[i] < 0)
      bad(fmt::format("{}: kernel {}, stride {}, dilation {} must be >= 1 and padding {} >= 0",
                      kDimName[i], opt_.kernel[i], opt_.stride[i], opt_.dilation[i],
                      opt_.padding[i]));
  if (spatial == 2 &&
      (opt_.kernel[0] != 1 || opt_.stride[0] != 1 || opt_.padding[0] != 0 || opt_.dilation[0] != 1))
    bad("a 2D convolution keeps the depth fields at kernel 1, stride 1, padding 0, dilation 1");
}

Shape ConvNd::weight_shape() const {
  Shape s{opt_.out_channels, opt_.in_channels / opt_.groups};
  for (int i = 3 - spatial_; i < 3; ++i)
    s.push_back(opt_.kernel[i]);
  return s;
}

void ConvNd::declare(ParamArena& arena) {
  arena.add_param(prefixed("weight"), weight_shape(), type(), ParamRole::weight, &weight_,
                  &weight_grad_);
  if (opt_.bias)
    arena.add_param(prefixed("bias"), {opt_.out_channels}, type(), ParamRole::bias, &bias_,
                    &bias_grad_);
}

Shape ConvNd::output_shape(const Shape& in) const {
  const std::string ws = shape_str(weight_shape());
  const int ndim = spatial_ + 2;
  if (static_cast<int>(in.size()) != ndim)
    fail(fmt::format("expected a {}-D input {}, got {} (weight {})", ndim,
                     spatial_ == 3 ? "(N, C, D, H, W)" : "(N, C, H, W)", shape_str(in), ws));
  if (in[1] != opt_.in_channels)
    fail(fmt::format("input {} has {} channels, weight {} expects {} (groups {})", shape_str(in),
                     in[1], ws, opt_.in_channels, opt_.groups));
  if (in[0] < 0) fail(fmt::format("input {} has a negative batch", shape_str(in)));
  Shape out{in[0], opt_.out_channels};
  for (int i = 3 - spatial_; i < 3; ++i) {
    const int64_t size = in[static_cast<size_t>(2 + i - (3 - spatial_))];
    const int64_t span = opt_.dilation[i] * (opt_.kernel[i] - 1) + 1;
    if (size < 1 || size + 2 * opt_.padding[i] < span)
      fail(
          fmt::format("input {} is too small for weight {}: {} {} + 2 x padding {} < dilated "
                      "kernel {}",
                      shape_str(in), ws, kDimName[i], size, opt_.padding[i], span));
    out.push_back((size + 2 * opt_.padding[i] - span) / opt_.stride[i] + 1);
  }
  return out;
}

kernels::ConvShape ConvNd::conv_shape(const Shape& in) const {
  output_shape(in);  // throws when it does not fit
  kernels::ConvShape s;
  s.spatial = spatial_;
  s.n = in[0];
  s.c = opt_.in_channels;
  s.k = opt_.out_channels;
  s.groups = opt_.groups;
  s.in = {1, 1, 1};
  for (int i = 3 - spatial_; i < 3; ++i)
    s.in[i] = in[static_cast<size_t>(2 + i - (3 - spatial_))];
  s.kernel = opt_.kernel;
  s.stride = opt_.stride;
  s.pad = opt_.padding;
  s.dilation = opt_.dilation;
  return s;
}

kernels::ConvParams ConvNd::conv_params(const Shape& in) const {
  const kernels::ConvShape s = conv_shape(in);
  auto narrow = [this, &in](int64_t v, const char* what) {
    if (v > INT_MAX)
      fail(fmt::format("input {}: {} = {} is too large for the GPU backend (int sizes)",
                       shape_str(in), what, v));
    return static_cast<int>(v);
  };
  kernels::ConvParams p;
  p.spatial = spatial_;
  p.n = narrow(s.n, "batch");
  p.c_in = narrow(s.c, "channels");
  p.c_out = narrow(s.k, "output channels");
  p.groups = narrow(s.groups, "groups");
  for (int i = 0; i < spatial_; ++i) {
    const int d = 3 - spatial_ + i;  // ConvShape is (D, H, W); ConvParams lists the used dims
    p.in[i] = narrow(s.in[d], kDimName[d]);
    p.kernel[i] = narrow(s.kernel[d], "kernel");
    p.stride[i] = narrow(s.stride[d], "stride");
    p.pad[i] = narrow(s.pad[d], "padding");
    p.dilation[i] = narrow(s.dilation[d], "dilation");
  }
  return p;
}

void ConvNd::check_params(const Tensor& x) const {
  check_param(x, weight_, "weight");
  if (opt_.bias) check_param(x, bias_, "bias");
}

namespace {
template <typename T>
void run_forward(Context& ctx, const kernels::ConvShape& s, const Tensor& x, const Tensor& w,
                 const Tensor* b, Tensor& y) {
  const size_t bytes = kernels::cpu::conv_workspace_bytes(s, sizeof(T), omp_get_max_threads());
  void* ws = bytes ? ctx.workspace(bytes) : nullptr;
  kernels::cpu::conv_forward<T>(s, x.data<T>(), w.data<T>(), b ? b->data<T>() : nullptr,
                                y.data<T>(), ws, bytes);
}

template <typename T>
void run_backward(Context& ctx, const kernels::ConvShape& s, const Tensor& x, const Tensor& w,
                  const Tensor& dy, Tensor* dx, const Tensor& dw, const Tensor* db) {
  const size_t bytes = kernels::cpu::conv_workspace_bytes(s, sizeof(T), omp_get_max_threads());
  void* ws = bytes ? ctx.workspace(bytes) : nullptr;
  kernels::cpu::conv_backward<T>(s, x.data<T>(), w.data<T>(), dy.data<T>(),
                                 dx ? dx->data<T>() : nullptr, dw.data<T>(),
                                 db ? db->data<T>() : nullptr, ws, bytes);
}
}  // namespace

void ConvNd::forward_impl(Context& ctx, const Tensor& x, Tensor& y) {
  check_params(x);
  if (use_gpu(x)) {
    if (x.numel() == 0) return;
    kernels::gpu::conv_forward(ctx.gpu(), conv_params(x.shape()), x.data<float>(),
                               weight_.data<float>(), opt_.bias ? bias_.data<float>() : nullptr,
                               y.data<float>());
    return;
  }
  const kernels::ConvShape s = conv_shape(x.shape());
  const Tensor* b = opt_.bias ? &bias_ : nullptr;
  if (x.dtype() == DType::f64)
    run_forward<double>(ctx, s, x, weight_, b, y);
  else
    run_forward<float>(ctx, s, x, weight_, b, y);
}

void ConvNd::backward_impl(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                           Tensor* dx) {
  (void)y;
  check_params(x);
  if (use_gpu(x)) {
    if (x.numel() == 0) return;
    const kernels::GpuExec ex = ctx.gpu();
    const kernels::ConvParams p = conv_params(x.shape());
    if (dx)
      kernels::gpu::conv_backward_data(ex, p, dy.data<float>(), weight_.data<float>(),
                                       dx->data<float>());
    kernels::gpu::conv_backward_filter(ex, p, x.data<float>(), dy.data<float>(),
                                       weight_grad_.data<float>());
    if (opt_.bias)
      kernels::gpu::conv_backward_bias(ex, p, dy.data<float>(), bias_grad_.data<float>());
    return;
  }
  const kernels::ConvShape s = conv_shape(x.shape());
  const Tensor* db = opt_.bias ? &bias_grad_ : nullptr;
  if (x.dtype() == DType::f64)
    run_backward<double>(ctx, s, x, weight_, dy, dx, weight_grad_, db);
  else
    run_backward<float>(ctx, s, x, weight_, dy, dx, weight_grad_, db);
}

}  // namespace nsal

#include "nn/layers/upsample.h"

#include <climits>
#include <cmath>

#include "kernels/cpu/upsample_cpu.h"
#include "kernels/cuda_ops.h"
#include "nn/layers/float_dispatch.h"

namespace nsal {

UpsampleBilinear2d::UpsampleBilinear2d(std::string name, UpsampleScale scale)
    : Layer("upsample_bilinear2d", std::move(name)), scale_(scale) {
  if (!(scale.h > 0 && scale.w > 0))
    fail("scale factors must be positive, got (" + std::to_string(scale.h) + ", " +
         std::to_string(scale.w) + ")");
}

UpsampleBilinear2d::UpsampleBilinear2d(std::string name, UpsampleSize size)
    : Layer("upsample_bilinear2d", std::move(name)), size_(size) {
  if (size.h < 1 || size.w < 1)
    fail("output size must be positive, got " + shape_str({size.h, size.w}));
}

Shape UpsampleBilinear2d::output_shape(const Shape& in) const {
  if (in.size() != 4) fail("expected input (N, C, H, W), got " + shape_str(in));
  if (in[2] < 1 || in[3] < 1) fail("input " + shape_str(in) + " has an empty spatial size");
  int64_t oh = size_.h, ow = size_.w;
  if (oh == 0) {
    oh = static_cast<int64_t>(std::floor(static_cast<double>(in[2]) * scale_.h));
    ow = static_cast<int64_t>(std::floor(static_cast<double>(in[3]) * scale_.w));
    if (oh < 1 || ow < 1)
      fail("input " + shape_str(in) + " with scale (" + std::to_string(scale_.h) + ", " +
           std::to_string(scale_.w) + ") gives an empty output");
  }
  return {in[0], in[1], oh, ow};
}

// The GPU ops take int sizes; the CPU's int64 loops need no such check.
static void check_int_sizes(const Layer& l, const Tensor& x, const Tensor& y) {
  if (x.dim(2) > INT_MAX || x.dim(3) > INT_MAX || y.dim(2) > INT_MAX || y.dim(3) > INT_MAX)
    throw ShapeError(layer_label(l.type(), l.name()) + ": input " + x.describe() + " / output " +
                     y.describe() + " is too large for the GPU backend (int sizes)");
}

void UpsampleBilinear2d::forward_impl(Context& ctx, const Tensor& x, Tensor& y) {
  if (use_gpu(x)) {
    if (x.numel() == 0) return;
    check_int_sizes(*this, x, y);
    kernels::gpu::upsample_bilinear2d_forward(
        ctx.gpu(), x.dim(0), x.dim(1), static_cast<int>(x.dim(2)), static_cast<int>(x.dim(3)),
        static_cast<int>(y.dim(2)), static_cast<int>(y.dim(3)), x.data<float>(), y.data<float>(),
        scale_.h, scale_.w);
    return;
  }
  dispatch_cpu_float(layer_label(type(), name()), x, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::upsample_bilinear2d_forward(x.data<T>(), x.dim(0) * x.dim(1), x.dim(2), x.dim(3),
                                              y.dim(2), y.dim(3), scale_.h, scale_.w, y.data<T>());
  });
}

void UpsampleBilinear2d::backward_impl(Context& ctx, const Tensor& x, const Tensor& y,
                                       const Tensor& dy, Tensor* dx) {
  if (!dx) return;
  if (use_gpu(x)) {
    if (x.numel() == 0) return;
    check_int_sizes(*this, x, y);
    kernels::gpu::upsample_bilinear2d_backward(
        ctx.gpu(), x.dim(0), x.dim(1), static_cast<int>(x.dim(2)), static_cast<int>(x.dim(3)),
        static_cast<int>(y.dim(2)), static_cast<int>(y.dim(3)), dy.data<float>(), dx->data<float>(),
        scale_.h, scale_.w);
    return;
  }
  dispatch_cpu_float(layer_label(type(), name()), x, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::upsample_bilinear2d_backward(dy.data<T>(), x.dim(0) * x.dim(1), x.dim(2),
                                               x.dim(3), y.dim(2), y.dim(3), scale_.h, scale_.w,
                                               dx->data<T>());
  });
}

}  // namespace nsal

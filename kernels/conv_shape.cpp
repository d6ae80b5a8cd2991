#include "kernels/conv_shape.h"

#include <fmt/format.h>

#include "kernels/error.h"

namespace nsal::kernels {

bool ConvShape::is_pointwise() const {
  for (int i = 0; i < 3; ++i)
    if (kernel[i] != 1 || stride[i] != 1 || pad[i] != 0) return false;
  return true;
}

static std::string dims_str(const Dims3& d, int spatial) {
  return spatial == 3 ? fmt::format("{}x{}x{}", d[0], d[1], d[2])
                      : fmt::format("{}x{}", d[1], d[2]);
}

std::string ConvShape::str() const {
  return fmt::format(
      "conv{}d n={} c={} k={} in={} kernel={} stride={} pad={} dilation={} groups={}", spatial, n,
      c, k, dims_str(in, spatial), dims_str(kernel, spatial), dims_str(stride, spatial),
      dims_str(pad, spatial), dims_str(dilation, spatial), groups);
}

void ConvShape::validate() const {
  NSAL_CHECK_AS(ShapeError, spatial == 2 || spatial == 3, "{}: spatial must be 2 or 3", str());
  NSAL_CHECK_AS(ShapeError, n >= 0 && c >= 1 && k >= 1 && groups >= 1,
                "{}: batch must be >= 0 and channels and groups >= 1", str());
  NSAL_CHECK_AS(ShapeError, c % groups == 0 && k % groups == 0,
                "{}: input channels {} and output channels {} must both divide by groups {}", str(),
                c, k, groups);
  for (int i = 0; i < 3; ++i) {
    NSAL_CHECK_AS(ShapeError,
                  in[i] >= 1 && kernel[i] >= 1 && stride[i] >= 1 && pad[i] >= 0 && dilation[i] >= 1,
                  "{}: sizes, kernel, stride and dilation must be >= 1 and padding >= 0", str());
    NSAL_CHECK_AS(ShapeError,
                  out_dim(i) >= 1 && in[i] + 2 * pad[i] >= dilation[i] * (kernel[i] - 1) + 1,
                  "{}: the input is smaller than the dilated kernel", str());
  }
  if (spatial == 2)
    NSAL_CHECK_AS(ShapeError, in[0] == 1 && kernel[0] == 1 && stride[0] == 1 && pad[0] == 0,
                  "{}: a 2D convolution has depth 1", str());
}

ConvShape conv2d_shape(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t kh,
                       int64_t kw, int64_t stride, int64_t pad, int64_t dilation, int64_t groups) {
  ConvShape s;
  s.spatial = 2;
  s.n = n;
  s.c = c;
  s.k = k;
  s.groups = groups;
  s.in = {1, h, w};
  s.kernel = {1, kh, kw};
  s.stride = {1, stride, stride};
  s.pad = {0, pad, pad};
  s.dilation = {1, dilation, dilation};
  return s;
}

ConvShape conv3d_shape(int64_t n, int64_t c, int64_t d, int64_t h, int64_t w, int64_t k, int64_t kd,
                       int64_t kh, int64_t kw, int64_t stride, int64_t pad, int64_t dilation,
                       int64_t groups) {
  ConvShape s;
  s.spatial = 3;
  s.n = n;
  s.c = c;
  s.k = k;
  s.groups = groups;
  s.in = {d, h, w};
  s.kernel = {kd, kh, kw};
  s.stride = {stride, stride, stride};
  s.pad = {pad, pad, pad};
  s.dilation = {dilation, dilation, dilation};
  return s;
}

}  // namespace nsal::kernels

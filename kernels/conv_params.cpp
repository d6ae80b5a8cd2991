#include "kernels/conv_params.h"

#include <climits>

namespace nsal::kernels {

static std::string dims_str(const int* v, int n) {
  std::string s = "(";
  for (int i = 0; i < n; ++i)
    s += (i ? ", " : "") + std::to_string(v[i]);
  return s + ")";
}

std::string ConvParams::str() const {
  return fmt::format(
      "conv{}d N={} C_in={} C_out={} groups={} in={} kernel={} stride={} pad={} dilation={}",
      spatial, n, c_in, c_out, groups, dims_str(in, spatial), dims_str(kernel, spatial),
      dims_str(stride, spatial), dims_str(pad, spatial), dims_str(dilation, spatial));
}

void check_conv_params(const ConvParams& p, const char* who) {
  auto fail = [&](const std::string& what) {
    throw ShapeError(fmt::format("{}: {} ({})", who, what, p.str()));
  };
  if (p.spatial != 2 && p.spatial != 3) fail("spatial dims must be 2 or 3");
  if (p.n <= 0 || p.c_in <= 0 || p.c_out <= 0) fail("N, C_in and C_out must be positive");
  if (p.groups <= 0 || p.c_in % p.groups || p.c_out % p.groups)
    fail("groups must be positive and divide C_in and C_out");
  for (int i = 0; i < p.spatial; ++i) {
    if (p.in[i] <= 0 || p.kernel[i] <= 0 || p.stride[i] <= 0 || p.dilation[i] <= 0 || p.pad[i] < 0)
      fail("extents, kernel, stride and dilation must be positive, padding non-negative");
    if (p.out(i) <= 0 || p.in[i] + 2 * p.pad[i] < p.dilation[i] * (p.kernel[i] - 1) + 1)
      fail("the (dilated) kernel is larger than the padded input");
  }
  if (p.x_numel() > INT_MAX || p.y_numel() > INT_MAX || p.w_numel() > INT_MAX)
    fail("more than 2^31 - 1 elements in one tensor");
}

std::string PoolParams::str() const {
  const char* m = mode == PoolMode::max               ? "max"
                  : mode == PoolMode::avg_include_pad ? "avg(count_include_pad)"
                                                      : "avg(exclude_pad)";
  return fmt::format("{}pool{}d N={} C={} in={} kernel={} stride={} pad={}", m, spatial, n, c,
                     dims_str(in, spatial), dims_str(kernel, spatial), dims_str(stride, spatial),
                     dims_str(pad, spatial));
}

void check_pool_params(const PoolParams& p, const char* who) {
  auto fail = [&](const std::string& what) {
    throw ShapeError(fmt::format("{}: {} ({})", who, what, p.str()));
  };
  if (p.spatial != 2 && p.spatial != 3) fail("spatial dims must be 2 or 3");
  if (p.n <= 0 || p.c <= 0) fail("N and C must be positive");
  for (int i = 0; i < p.spatial; ++i) {
    if (p.in[i] <= 0 || p.kernel[i] <= 0 || p.stride[i] <= 0 || p.pad[i] < 0)
      fail("extents, kernel and stride must be positive, padding non-negative");
    if (2 * p.pad[i] > p.kernel[i]) fail("padding must be at most half the window");
    if (p.in[i] + 2 * p.pad[i] < p.kernel[i]) fail("the window is larger than the padded input");
  }
  if (p.x_numel() > INT_MAX) fail("more than 2^31 - 1 elements in one tensor");
}

}  // namespace nsal::kernels

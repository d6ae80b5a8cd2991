// Geometry of 2D/3D convolutions and poolings (PyTorch semantics: NCHW / NCDHW activations,
// OIHW / OIDHW weights), with host-side validation that names the caller and the fields.
#pragma once

#include <cstdint>
#include <string>

#include "kernels/error.h"

namespace nsal::kernels {

struct ConvParams {
  int spatial = 2;  // 2: (N, C, H, W); 3: (N, C, D, H, W)
  int n = 0, c_in = 0, c_out = 0, groups = 1;
  int in[3] = {0, 0, 0};  // input extent per spatial dim (H, W) or (D, H, W)
  int kernel[3] = {1, 1, 1};
  int stride[3] = {1, 1, 1};
  int pad[3] = {0, 0, 0};
  int dilation[3] = {1, 1, 1};

  // Output extent along spatial dim i.
  int out(int i) const {
    return (in[i] + 2 * pad[i] - dilation[i] * (kernel[i] - 1) - 1) / stride[i] + 1;
  }
  int64_t in_spatial() const { return prod(in); }
  int64_t out_spatial() const {
    int64_t s = 1;
    for (int i = 0; i < spatial; ++i)
      s *= out(i);
    return s;
  }
  int64_t kernel_volume() const { return prod(kernel); }
  int64_t x_numel() const { return int64_t{n} * c_in * in_spatial(); }
  int64_t y_numel() const { return int64_t{n} * c_out * out_spatial(); }
  int64_t w_numel() const { return int64_t{c_out} * (c_in / groups) * kernel_volume(); }
  // Multiply-adds of the forward pass (x2 for FLOPs).
  double macs() const {
    return static_cast<double>(y_numel()) * (c_in / groups) * static_cast<double>(kernel_volume());
  }
  std::string str() const;

 private:
  int64_t prod(const int* v) const {
    int64_t s = 1;
    for (int i = 0; i < spatial; ++i)
      s *= v[i];
    return s;
  }
};

// Throws ShapeError naming `who` when p cannot describe a convolution.
void check_conv_params(const ConvParams& p, const char* who);

enum class PoolMode : uint8_t {
  max,
  avg_include_pad,  // PyTorch avg_pool count_include_pad=True (divisor = window volume)
  avg_exclude_pad,  // count_include_pad=False (divisor = window cells inside the input)
};

// Floor-mode pooling (PyTorch ceil_mode=False), no dilation.
struct PoolParams {
  int spatial = 2;
  int n = 0, c = 0;
  int in[3] = {0, 0, 0};
  int kernel[3] = {1, 1, 1};
  int stride[3] = {1, 1, 1};
  int pad[3] = {0, 0, 0};
  PoolMode mode = PoolMode::max;

  int out(int i) const { return (in[i] + 2 * pad[i] - kernel[i]) / stride[i] + 1; }
  int64_t in_spatial() const {
    int64_t s = 1;
    for (int i = 0; i < spatial; ++i)
      s *= in[i];
    return s;
  }
  int64_t out_spatial() const {
    int64_t s = 1;
    for (int i = 0; i < spatial; ++i)
      s *= out(i);
    return s;
  }
  int64_t x_numel() const { return int64_t{n} * c * in_spatial(); }
  int64_t y_numel() const { return int64_t{n} * c * out_spatial(); }
  std::string str() const;
};

// Throws ShapeError naming `who` when p cannot describe a pooling (PyTorch's rules: pad at most
// half the window, a window that fits the padded input).
void check_pool_params(const PoolParams& p, const char* who);

}  // namespace nsal::kernels

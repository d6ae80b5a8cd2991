// ConvShape: the geometry of one 2D or 3D convolution, shared by every backend.
// Spatial arrays are indexed (depth, height, width); a 2D convolution is the 3D one with depth 1,
// kernel depth 1, stride and dilation 1 and no padding in depth, so one set of kernels does both.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace nsal::kernels {

using Dims3 = std::array<int64_t, 3>;  // (depth, height, width)

struct ConvShape {
  int spatial = 2;        // 2: x (N, C, H, W); 3: x (N, C, D, H, W)
  int64_t n = 1;          // batch
  int64_t c = 1;          // input channels
  int64_t k = 1;          // output channels
  int64_t groups = 1;     // c and k are multiples of groups; groups == c is depthwise
  Dims3 in{1, 1, 1};      // input spatial size
  Dims3 kernel{1, 1, 1};  // filter spatial size
  Dims3 stride{1, 1, 1};
  Dims3 pad{0, 0, 0};  // zero padding on both sides
  Dims3 dilation{1, 1, 1};

  // out[i] = (in[i] + 2 pad[i] - dilation[i] (kernel[i] - 1) - 1) / stride[i] + 1
  int64_t out_dim(int i) const {
    return (in[i] + 2 * pad[i] - dilation[i] * (kernel[i] - 1) - 1) / stride[i] + 1;
  }
  Dims3 out() const { return {out_dim(0), out_dim(1), out_dim(2)}; }
  int64_t in_size() const { return in[0] * in[1] * in[2]; }  // spatial elements per channel
  int64_t out_size() const { return out_dim(0) * out_dim(1) * out_dim(2); }
  int64_t kernel_size() const { return kernel[0] * kernel[1] * kernel[2]; }
  int64_t c_per_group() const { return c / groups; }
  int64_t k_per_group() const { return k / groups; }
  // Rows of the im2col matrix of one group: (C / groups) * kernel volume.
  int64_t col_rows() const { return c_per_group() * kernel_size(); }
  int64_t x_numel() const { return n * c * in_size(); }
  int64_t y_numel() const { return n * k * out_size(); }
  int64_t w_numel() const { return k * col_rows(); }  // (K, C / groups, kd, kh, kw)
  // Multiply-adds x 2 of the forward pass (the backward pass costs twice that).
  double forward_flops() const {
    return 2.0 * static_cast<double>(n) * static_cast<double>(k) * static_cast<double>(out_size()) *
           static_cast<double>(col_rows());
  }
  // A 1x1(x1) filter with stride 1 and no padding: the input is its own im2col matrix.
  bool is_pointwise() const;

  // Throws ShapeError with the whole geometry when a field is out of range, the channels do not
  // divide by groups, or the output would be empty.
  void validate() const;
  // "conv2d n=128 c=64 k=64 in=32x32 kernel=3x3 stride=1x1 pad=1x1 dilation=1x1 groups=1"
  std::string str() const;
};

// Whether a convolution has enough work to be worth an OpenMP parallel region: below about a
// megaflop, waking the threads costs more than it saves (and much more on a busy machine).
inline bool worth_threads(const ConvShape& s) {
  return s.forward_flops() >= 1e6;
}

// Convenience builders; the arguments follow PyTorch's order (height before width).
ConvShape conv2d_shape(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t kh,
                       int64_t kw, int64_t stride = 1, int64_t pad = 0, int64_t dilation = 1,
                       int64_t groups = 1);
ConvShape conv3d_shape(int64_t n, int64_t c, int64_t d, int64_t h, int64_t w, int64_t k, int64_t kd,
                       int64_t kh, int64_t kw, int64_t stride = 1, int64_t pad = 0,
                       int64_t dilation = 1, int64_t groups = 1);

}  // namespace nsal::kernels

// Conv2d and Conv3d: PyTorch's nn.Conv2d / nn.Conv3d (cross-correlation, zero padding, groups,
// dilation, optional bias). Parameters in PyTorch layout: `<name>.weight` (O, I / groups, kh, kw)
// or (O, I / groups, kd, kh, kw), and `<name>.bias` (O,) when enabled.
// The CPU backend is im2col + BLAS (kernels/cpu/conv_cpu.h), scratch from Context::workspace; the
// GPU backend is cuDNN (kernels/cuda_ops.h), float32 only.
#pragma once

#include <string>

#include "kernels/conv_params.h"
#include "kernels/conv_shape.h"
#include "nn/layer.h"

namespace nsal {

// Spatial fields are (depth, height, width); a 2D convolution uses height and width only and
// keeps depth at kernel 1, stride 1, padding 0, dilation 1.
struct ConvOptions {
  int64_t in_channels = 1;
  int64_t out_channels = 1;
  kernels::Dims3 kernel{1, 3, 3};
  kernels::Dims3 stride{1, 1, 1};
  kernels::Dims3 padding{0, 0, 0};
  kernels::Dims3 dilation{1, 1, 1};
  int64_t groups = 1;
  bool bias = true;

  // Square 2D / cubic 3D options, the usual case.
  static ConvOptions make2d(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1,
                            int64_t padding = 0, int64_t dilation = 1, int64_t groups = 1,
                            bool bias = true);
  static ConvOptions make3d(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1,
                            int64_t padding = 0, int64_t dilation = 1, int64_t groups = 1,
                            bool bias = true);
};

// The shared implementation; spatial is 2 (input (N, C, H, W)) or 3 (input (N, C, D, H, W)).
class ConvNd : public Layer {
 public:
  ConvNd(int spatial, std::string name, const ConvOptions& options);

  void declare(ParamArena& arena) override;
  Shape output_shape(const Shape& in) const override;
  BackwardReads backward_reads(bool) const override { return {true, false}; }  // x

  const ConvOptions& options() const { return opt_; }
  int spatial() const { return spatial_; }
  int64_t in_channels() const { return opt_.in_channels; }
  int64_t out_channels() const { return opt_.out_channels; }
  const kernels::Dims3& kernel() const { return opt_.kernel; }
  const kernels::Dims3& stride() const { return opt_.stride; }
  const kernels::Dims3& padding() const { return opt_.padding; }
  const kernels::Dims3& dilation() const { return opt_.dilation; }
  int64_t groups() const { return opt_.groups; }
  bool has_bias() const { return opt_.bias; }
  Shape weight_shape() const;  // (O, I / groups, [kd,] kh, kw)

  // Views into the arena (empty before the arena is allocated; bias empty without bias).
  Tensor& weight() { return weight_; }
  Tensor& bias() { return bias_; }
  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }
  const Tensor& weight_grad() const { return weight_grad_; }
  const Tensor& bias_grad() const { return bias_grad_; }

  // The kernel geometry for an input shape (checked with output_shape first).
  kernels::ConvShape conv_shape(const Shape& in) const;
  // The same geometry as the GPU ops take it (kernels/conv_params.h); throws naming the layer when
  // a size does not fit the int fields cuDNN uses.
  kernels::ConvParams conv_params(const Shape& in) const;

 protected:
  void forward_impl(Context& ctx, const Tensor& x, Tensor& y) override;
  void backward_impl(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                     Tensor* dx) override;

 private:
  void check_params(const Tensor& x) const;

  int spatial_;
  ConvOptions opt_;
  Tensor weight_, weight_grad_, bias_, bias_grad_;
};

class Conv2d : public ConvNd {
 public:
  Conv2d(std::string name, const ConvOptions& options) : ConvNd(2, std::move(name), options) {}
  Conv2d(std::string name, int64_t in, int64_t out, int64_t kernel, int64_t stride = 1,
         int64_t padding = 0, int64_t dilation = 1, int64_t groups = 1, bool bias = true)
      : Conv2d(std::move(name),
               ConvOptions::make2d(in, out, kernel, stride, padding, dilation, groups, bias)) {}
};

class Conv3d : public ConvNd {
 public:
  Conv3d(std::string name, const ConvOptions& options) : ConvNd(3, std::move(name), options) {}
  Conv3d(std::string name, int64_t in, int64_t out, int64_t kernel, int64_t stride = 1,
         int64_t padding = 0, int64_t dilation = 1, int64_t groups = 1, bool bias = true)
      : Conv3d(std::move(name),
               ConvOptions::make3d(in, out, kernel, stride, padding, dilation, groups, bias)) {}
};

}  // namespace nsal

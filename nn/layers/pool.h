// Pooling: MaxPool2d/3d, AvgPool2d/3d (PyTorch semantics: floor mode, no dilation, padding at
// most half the kernel; max pooling pads with -inf, average pooling counts the zero padding in
// the divisor unless count_include_pad is off) and GlobalAvgPool ((N, C, ...) -> (N, C)).
// On a CUDA device (float32): an own max-pool kernel with PyTorch's tie rule, cuDNN average
// pooling and an own global-average kernel (kernels/cuda_ops.h).
#pragma once

#include <initializer_list>
#include <vector>

#include "kernels/conv_params.h"
#include "kernels/pool.h"
#include "nn/layer.h"

namespace nsal {

// A kernel, stride or padding: one value for every spatial dimension or one per dimension
// (D, H, W order). Empty stride means "equal to the kernel", as in PyTorch.
struct PoolArg {
  std::vector<int> v;
  PoolArg(int x) : v{x} {}  // NOLINT(google-explicit-constructor): MaxPool2d("p", 3, 2, 1)
  PoolArg(std::initializer_list<int> l) : v(l) {}
};

class Pool : public Layer {
 public:
  Shape output_shape(const Shape& in) const override;
  // The CPU backward reads only the geometry (and max pooling its argmax indices); cuDNN's
  // pooling backward takes x and y.
  BackwardReads backward_reads(bool gpu) const override { return {gpu, gpu}; }
  const kernels::PoolGeom& geometry() const { return geom_; }  // of the last checked input

 protected:
  Pool(std::string type, int spatial_dims, std::string name, PoolArg kernel, PoolArg stride,
       PoolArg padding);
  // Geometry for one input shape (N, C, [D,] H, W); throws naming the layer when it does not fit.
  kernels::PoolGeom geometry_for(const Shape& in) const;
  int64_t planes(const Shape& in) const { return in[0] * in[1]; }
  // The GPU ops' description of this pooling for an input shape (int sizes checked).
  kernels::PoolParams pool_params(const Shape& in, kernels::PoolMode mode) const;

  int spatial_dims_;
  int k_[3], s_[3], p_[3];  // (D, H, W); D is 1/1/0 for 2d pooling
  kernels::PoolGeom geom_;
};

class MaxPool : public Pool {
 public:
  MaxPool(int spatial_dims, std::string name, PoolArg kernel, PoolArg stride = {},
          PoolArg padding = 0);

 protected:
  void forward_impl(Context& ctx, const Tensor& x, Tensor& y) override;
  void backward_impl(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                     Tensor* dx) override;

 private:
  Tensor argmax_;  // int32, output shape: flat index of each maximum within its input plane (CPU)
};

class AvgPool : public Pool {
 public:
  AvgPool(int spatial_dims, std::string name, PoolArg kernel, PoolArg stride = {},
          PoolArg padding = 0, bool count_include_pad = true);

 protected:
  void forward_impl(Context& ctx, const Tensor& x, Tensor& y) override;
  void backward_impl(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                     Tensor* dx) override;

 private:
  bool count_include_pad_;
};

class MaxPool2d : public MaxPool {
 public:
  MaxPool2d(std::string name, PoolArg kernel, PoolArg stride = {}, PoolArg padding = 0)
      : MaxPool(2, std::move(name), std::move(kernel), std::move(stride), std::move(padding)) {}
};
class MaxPool3d : public MaxPool {
 public:
  MaxPool3d(std::string name, PoolArg kernel, PoolArg stride = {}, PoolArg padding = 0)
      : MaxPool(3, std::move(name), std::move(kernel), std::move(stride), std::move(padding)) {}
};
class AvgPool2d : public AvgPool {
 public:
  AvgPool2d(std::string name, PoolArg kernel, PoolArg stride = {}, PoolArg padding = 0,
            bool count_include_pad = true)
      : AvgPool(2, std::move(name), std::move(kernel), std::move(stride), std::move(padding),
                count_include_pad) {}
};
class AvgPool3d : public AvgPool {
 public:
  AvgPool3d(std::string name, PoolArg kernel, PoolArg stride = {}, PoolArg padding = 0,
            bool count_include_pad = true)
      : AvgPool(3, std::move(name), std::move(kernel), std::move(stride), std::move(padding),
                count_include_pad) {}
};

// Mean over all spatial positions: (N, C, ...) with at least one spatial dimension -> (N, C).
class GlobalAvgPool : public Layer {
 public:
  explicit GlobalAvgPool(std::string name) : Layer("global_avg_pool", std::move(name)) {}
  Shape output_shape(const Shape& in) const override;
  BackwardReads backward_reads(bool) const override { return {false, false}; }  // shapes only

 protected:
  void forward_impl(Context& ctx, const Tensor& x, Tensor& y) override;
  void backward_impl(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                     Tensor* dx) override;
};

}  // namespace nsal

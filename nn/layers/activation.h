// Element-wise activations: ReLU and ReLU6 (any shape).
#pragma once

#include "nn/layer.h"

namespace nsal {

class ReLU : public Layer {
 public:
  explicit ReLU(std::string name) : Layer("relu", std::move(name)) {}
  Shape output_shape(const Shape& in) const override { return in; }
  BackwardReads backward_reads(bool) const override { return {false, true}; }  // y

 protected:
  void forward_impl(Context& ctx, const Tensor& x, Tensor& y) override;
  void backward_impl(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                     Tensor* dx) override;
};

// min(max(x, 0), 6), as torch.nn.ReLU6.
class ReLU6 : public Layer {
 public:
  explicit ReLU6(std::string name) : Layer("relu6", std::move(name)) {}
  Shape output_shape(const Shape& in) const override { return in; }
  BackwardReads backward_reads(bool) const override { return {false, true}; }  // y

 protected:
  void forward_impl(Context& ctx, const Tensor& x, Tensor& y) override;
  void backward_impl(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                     Tensor* dx) override;
};

}  // namespace nsal

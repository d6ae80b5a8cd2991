// Shape-only layers. Their outputs are copies (a layer owns its output buffer), and backward
// copies the gradient back into the input's shape.
#pragma once

#include "nn/layer.h"

namespace nsal {

// torch.nn.Flatten: merges dimensions [start_dim, end_dim] (negative counts from the end).
class Flatten : public Layer {
 public:
  explicit Flatten(std::string name, int start_dim = 1, int end_dim = -1);
  Shape output_shape(const Shape& in) const override;
  BackwardReads backward_reads(bool) const override { return {false, false}; }  // shapes only

 protected:
  void forward_impl(Context& ctx, const Tensor& x, Tensor& y) override;
  void backward_impl(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                     Tensor* dx) override;

 private:
  int start_, end_;
};

// Keeps the batch dimension and reshapes each sample: (N, ...) -> (N, per_sample...), with at
// most one -1 in per_sample inferred, e.g. Reshape("unflat", {512, 4, 4}).
class Reshape : public Layer {
 public:
  Reshape(std::string name, Shape per_sample);
  Shape output_shape(const Shape& in) const override;
  BackwardReads backward_reads(bool) const override { return {false, false}; }  // shapes only

 protected:
  void forward_impl(Context& ctx, const Tensor& x, Tensor& y) override;
  void backward_impl(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                     Tensor* dx) override;

 private:
  Shape per_sample_;
};

}  // namespace nsal

// Fully connected layer, as torch.nn.Linear: y = x W^T + b for x (..., in) -> (..., out).
// Arena: "<name>.weight" (out, in) ParamRole::weight, "<name>.bias" (out,) ParamRole::bias.
#pragma once

#include "nn/layer.h"

namespace nsal {

class Linear : public Layer {
 public:
  Linear(std::string name, int64_t in_features, int64_t out_features, bool bias = true);

  void declare(ParamArena& arena) override;
  Shape output_shape(const Shape& in) const override;
  BackwardReads backward_reads(bool) const override { return {true, false}; }  // x

  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }
  bool has_bias() const { return has_bias_; }
  Tensor& weight() { return weight_; }  // (out, in)
  Tensor& bias() { return bias_; }      // (out,)

 protected:
  void forward_impl(Context& ctx, const Tensor& x, Tensor& y) override;
  void backward_impl(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                     Tensor* dx) override;

 private:
  int64_t in_, out_;
  bool has_bias_;
  Tensor weight_, bias_, dweight_, dbias_;
};

}  // namespace nsal

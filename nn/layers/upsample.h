// Bilinear 2d upsampling (N, C, H, W) -> (N, C, OH, OW) with PyTorch's align_corners=False
// semantics (F.interpolate(mode="bilinear")). With a scale factor the output is
// floor(in * scale) and the sampling step is 1 / scale, as PyTorch does when the scale is not
// recomputed; with an output size the step is in / out.
#pragma once

#include "nn/layer.h"

namespace nsal {

struct UpsampleScale {
  double h, w;
};
struct UpsampleSize {
  int64_t h, w;
};

class UpsampleBilinear2d : public Layer {
 public:
  UpsampleBilinear2d(std::string name, UpsampleScale scale);
  UpsampleBilinear2d(std::string name, UpsampleSize size);
  Shape output_shape(const Shape& in) const override;
  BackwardReads backward_reads(bool) const override { return {false, false}; }  // shapes only

 protected:
  void forward_impl(Context& ctx, const Tensor& x, Tensor& y) override;
  void backward_impl(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                     Tensor* dx) override;

 private:
  UpsampleScale scale_{0, 0};  // <= 0 when a size was given
  UpsampleSize size_{0, 0};    // 0 when a scale was given
};

}  // namespace nsal

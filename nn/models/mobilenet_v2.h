// mobilenet-v2: MobileNetV2 (Sandler et al. 2018) with torchvision's structure and names, adjusted
// for 32x32 inputs (CIFAR) as in the common kuangliu/pytorch-cifar MobileNetV2: the stem conv
// and the first stage of 24 channels use stride 1 instead of 2, so a 32x32 image reaches the
// last stage at 4x4 (torchvision's strides would leave 1x1).
//
//   features.0        conv 3x3 (C -> 32, stride 1) + BN + ReLU6      features.0.0, features.0.1
//   features.1..17    inverted residual blocks (t, c, n, s):
//                     (1, 16, 1, 1) (6, 24, 2, 1*) (6, 32, 3, 2) (6, 64, 4, 2) (6, 96, 3, 1)
//                     (6, 160, 3, 2) (6, 320, 1, 1)           (* torchvision: 2)
//   features.18       conv 1x1 (320 -> 1280) + BN + ReLU6            features.18.0, features.18.1
//   global average pool, classifier.0 = Dropout(0.2), classifier.1 = Linear(1280 -> classes)
//
// An inverted residual block with expansion t: `conv.0` = 1x1 expand conv + BN + ReLU6 (t != 1),
// then the 3x3 depthwise conv + BN + ReLU6, then the 1x1 projection conv and its BN (no
// activation); the input is added when the stride is 1 and the channels agree. Names as in
// torchvision: features.N.conv.0.0 / conv.0.1 (expand), conv.1.0 / conv.1.1 (depthwise),
// conv.2 / conv.3 (projection); with t = 1: conv.0.0 / conv.0.1 (depthwise), conv.1 / conv.2.
// Unlike kuangliu's version, blocks with stride 1 and different channels have no 1x1 shortcut
// conv (torchvision's rule), so the parameter count is torchvision's: 2,236,682 for 10 classes.
//
// Any spatial size works (input_shape (C, -1, -1)); 32x32 is the intended one. features() is
// the pooled (N, 1280) vector before the dropout.
#pragma once

#include <memory>
#include <vector>

#include "nn/model.h"

namespace nsal {

class InvertedResidual;

class MobileNetV2 : public Model {
 public:
  MobileNetV2(int64_t in_channels, int64_t classes);
  ~MobileNetV2() override;
  Shape input_shape() const override { return {in_channels_, -1, -1}; }
  int64_t num_outputs() const override { return classes_; }
  const Tensor& features() const override { return pool_->output(); }  // (N, 1280)

 protected:
  const Tensor& forward_impl(Context& ctx,
                             const Tensor& x) override;  // (N, C, H, W) -> (N, classes)
  void backward_impl(Context& ctx, const Tensor& dlogits) override;

 private:
  int64_t in_channels_, classes_;
  Sequential stem_;                                        // features.0
  std::vector<std::unique_ptr<InvertedResidual>> blocks_;  // features.1..17
  Sequential head_;                                        // features.18, pool
  Layer* pool_;
  Sequential classifier_;  // classifier.0 (dropout), classifier.1 (linear)
};

}  // namespace nsal

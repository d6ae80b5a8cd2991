// resnet18: torchvision's ImageNet ResNet-18 (224x224 inputs):
//   conv1 (7x7, stride 2, padding 3) + bn1 + relu, maxpool (3x3, stride 2, padding 1),
//   layer1..layer4 of two BasicBlocks each (64/128/256/512 channels, stride 2 at the start of
//   layer2..4 with a 1x1 conv + BN projection `layerN.0.downsample.0/1`), avgpool (adaptive to
//   1x1: the global mean), fc (512 -> classes).
// Parameter names and count are torchvision's (11,689,512 with 3 input channels and 1000 classes).
// The spatial size is free (input_shape (C, -1, -1)): 224 is the usual one, and any other works
// (each stride-2 step rounds up, the pool averages whatever layer4 leaves); the tests use 33, 48
// and 64.
#pragma once

#include <memory>
#include <vector>

#include "nn/model.h"
#include "nn/models/basic_block.h"

namespace nsal {

class ResNet18 : public Model {
 public:
  ResNet18(int64_t in_channels, int64_t classes);
  Shape input_shape() const override { return {in_channels_, -1, -1}; }
  int64_t num_outputs() const override { return classes_; }
  const Tensor& features() const override { return pool_->output(); }  // (N, 512)

 protected:
  const Tensor& forward_impl(Context& ctx,
                             const Tensor& x) override;  // (N, C, H, W) -> (N, classes)
  void backward_impl(Context& ctx, const Tensor& dlogits) override;

 private:
  int64_t in_channels_, classes_;
  Sequential stem_;  // conv1, bn1, relu, maxpool
  std::vector<std::unique_ptr<BasicBlock>> blocks_;
  Layer* pool_;
  Layer* fc_;
};

}  // namespace nsal

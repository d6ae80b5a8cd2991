// BasicBlock: the residual block of ResNet-18/34 and of the DRN authors' code. Two 3x3 conv + BN
// with a ReLU between them, the shortcut (identity, or a 1x1 conv + BN projection where the
// shape changes), the residual sum, and a final ReLU. Convolutions have no bias; conv1 carries
// the stride, and conv1 / conv2 may be dilated (padding = dilation, so the size is kept).
//
// Names under the block's prefix: conv1, bn1, conv2, bn2, and the projection as
// `<shortcut>.0` (conv) and `<shortcut>.1` (BN), where <shortcut> is "shortcut" in the common
// CIFAR code and "downsample" in torchvision and drn.py.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nn/fuse.h"
#include "nn/layers/merge.h"
#include "nn/model.h"

namespace nsal {

struct BasicBlockOptions {
  int spatial = 2;  // 2: Conv2d / BatchNorm2d, 3: Conv3d / BatchNorm3d
  int64_t in = 64;
  int64_t out = 64;
  int64_t stride = 1;
  int64_t dilation1 = 1;  // conv1
  int64_t dilation2 = 1;  // conv2
  std::string shortcut = "shortcut";
};

class BasicBlock {
 public:
  BasicBlock(const LayerAdder& add, const std::string& name, const BasicBlockOptions& opt);
  BasicBlock(const BasicBlock&) = delete;
  BasicBlock& operator=(const BasicBlock&) = delete;

  const Tensor& forward(Context& ctx, const Tensor& x);  // (N, in, S...) -> (N, out, S/stride...)
  const Tensor& backward(Context& ctx, const Tensor& dy);
  const Tensor& output() const { return relu_out_->output(); }
  // Eval mode, nn/fuse.h: relu(fold(conv1, bn1)) then relu(fold(conv2, bn2) + shortcut), the
  // shortcut folded too when it is a conv + BN.
  const Tensor& forward_fused(Context& ctx, const Tensor& x, FoldScratch& scratch);
  // The same on the bf16 path: x (N, S..., in) bfloat16 channels-last -> (N, S'..., out).
  const Tensor& forward_fused_bf16(Context& ctx, const Tensor& x, FoldScratch& scratch);
  // The fused units, for sizing the scratch and counting cuDNN's fused kernels.
  std::vector<const ConvBnUnit*> units() const;

 private:
  Sequential main_;      // conv1, bn1, relu1, conv2, bn2
  Sequential shortcut_;  // projection conv, BN; empty for the identity
  ResidualAdd sum_;
  ResidualAdd grad_sum_;  // d(loss)/dx = main path + shortcut path
  Layer* relu_out_;
  std::unique_ptr<ConvBnUnit> unit1_, unit2_, unit_shortcut_;  // unit_shortcut_ null: identity
};

}  // namespace nsal

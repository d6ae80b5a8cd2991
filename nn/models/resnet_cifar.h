// resnet18-cifar and resnet18-3d: the 32x32 ResNet-18 of the paper (3x3 stem with stride 1, no
// max pool, stages of 64/128/256/512 channels with two BasicBlocks each, a 1x1 conv + BN
// shortcut where the shape changes, global average pool, linear), with the parameter names of
// the common PyTorch CIFAR code: conv1, bn1, layer1.0.conv1, ..., layer2.0.shortcut.0,
// layer2.0.shortcut.1, linear. With spatial_dims = 3 every conv and BN is 3D, for
// single-channel 32x32x32 volumes (cryo-ET subtomograms). Model::set_fused_inference runs the
// eval-mode forward with every conv + BN folded (nn/fuse.h); with the context's math mode bf16,
// in bfloat16 channels-last between the units.
#pragma once

#include <memory>
#include <vector>

#include "nn/fuse.h"
#include "nn/layers/activation.h"
#include "nn/layers/batchnorm.h"
#include "nn/layers/conv.h"
#include "nn/layers/linear.h"
#include "nn/layers/merge.h"
#include "nn/layers/pool.h"
#include "nn/model.h"
#include "nn/models/basic_block.h"

namespace nsal {

class ResNetCifar : public Model {
 public:
  // spatial_dims 2: resnet18-cifar on (C, 32, 32); 3: resnet18-3d on (C, 32, 32, 32).
  ResNetCifar(int spatial_dims, int64_t in_channels, int64_t classes);
  Shape input_shape() const override;
  int64_t num_outputs() const override { return classes_; }
  // (N, 512): the pooled features of the last forward (the bf16 path's when it ran).
  const Tensor& features() const override {
    return last_forward_bf16_ ? pooled_bf16_path_ : pool_->output();
  }

  bool supports_fused_inference() const override { return true; }
  // How many of the last fused forward's conv + BN units ran cuDNN's fused conv + bias +
  // activation kernel (0 on the CPU; the rest fell back to the unfused ops), and how many there
  // are.
  int fused_kernels_last_forward() const;
  int fused_units() const;
  // The conv + BN units of the fused path: the stem's, then each block's.
  std::vector<const ConvBnUnit*> units() const;

 protected:
  const Tensor& forward_impl(Context& ctx, const Tensor& x) override;
  void backward_impl(Context& ctx, const Tensor& dlogits) override;

 private:
  const Tensor& forward_fused(Context& ctx, const Tensor& x);
  // Under MathMode::bf16: every unit in bfloat16 channels-last (ConvBnUnit::forward_bf16), the
  // pooled features and the linear layer in float32.
  const Tensor& forward_fused_bf16(Context& ctx, const Tensor& x);
  void reserve_fold_scratch(Device device, bool bf16);

  int spatial_;
  int64_t in_channels_, classes_;
  Sequential stem_;  // conv1, bn1, relu
  std::vector<std::unique_ptr<BasicBlock>> blocks_;
  Layer* pool_;
  Layer* linear_;
  std::unique_ptr<ConvBnUnit> stem_unit_;  // conv1 + bn1 + relu, fused
  FoldScratch fold_scratch_;
  Tensor input_bf16_;        // (N, S..., C_in) bfloat16
  Tensor pooled_bf16_path_;  // (N, 512) float32
  bool last_forward_fused_ = false;
  bool last_forward_bf16_ = false;
};

}  // namespace nsal

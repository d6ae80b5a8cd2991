// drn-d-22: the dilated residual network DRN-D-22 (Yu, Koltun, Funkhouser 2017) with the
// segmentation head of the authors' DRNSeg, following drn.py (`drn_d_22`, arch 'D') and
// segment.py of github.com/fyu/drn:
//   layer0  conv 7x7 (C -> 16) + BN + ReLU                      layer0.0, layer0.1
//   layer1  conv 3x3 (16 -> 16) + BN + ReLU                     layer1.0, layer1.1
//   layer2  conv 3x3 stride 2 (16 -> 32) + BN + ReLU            layer2.0, layer2.1
//   layer3  2 BasicBlocks, 64 channels, stride 2                layer3.0.conv1, ..., downsample.0/1
//   layer4  2 BasicBlocks, 128 channels, stride 2
//   layer5  2 BasicBlocks, 256 channels, dilation 2 (both convs of both blocks)
//   layer6  2 BasicBlocks, 512 channels, dilation 4
//   layer7  conv 3x3 dilation 2 (512 -> 512) + BN + ReLU, no residual   layer7.0, layer7.1
//   layer8  conv 3x3 (512 -> 512) + BN + ReLU, no residual               layer8.0, layer8.1
//   seg     conv 1x1 (512 -> classes) with bias, at 1/8 resolution
//   up      bilinear x8 upsampling back to the input size
// Convolutions other than `seg` have no bias. The output is (N, classes, H, W) logits; H and W
// must be multiples of 8 (the network's stride).
//
// Names: drn.py's (`layer0.0.weight`, `layer3.0.downsample.0.weight`, ...) and `seg`. DRNSeg
// wraps the trunk as `base = nn.Sequential(*children[:-2])`, so its own state_dict calls layerK
// `base.K` (same tensors, K = 0..8); a loader maps one prefix to the other.
//
// Upsampling: DRNSeg uses a depthwise ConvTranspose2d (kernel 16, stride 8, padding 4) with
// fixed bilinear weights (`up.weight`, not trained). Those weights give exactly
// F.interpolate(scale_factor=8, mode="bilinear", align_corners=False) away from the border; in
// the outermost 4 pixels the transposed conv fades towards zero (it sees zero padding) where the
// interpolation clamps to the edge. nsal uses UpsampleBilinear2d x8 (the interpolation), so
// `up.weight` is not part of the checkpoint; tests/torch/check_checkpoint.py shows both agree in
// the interior.
//
// features(): the global mean of layer8's output, (N, 512), for CoreSet-style selection.
#pragma once

#include <memory>
#include <vector>

#include "nn/layers/pool.h"
#include "nn/model.h"
#include "nn/models/basic_block.h"

namespace nsal {

class DrnD22 : public Model {
 public:
  DrnD22(int64_t in_channels, int64_t classes);
  Shape input_shape() const override { return {in_channels_, -1, -1}; }
  int64_t num_outputs() const override { return classes_; }
  bool per_pixel_outputs() const override { return true; }
  // (N, C, H, W) -> (N, classes, H, W); throws ShapeError unless H and W are multiples of 8.
  const Tensor& features() const override { return feature_pool_.output(); }

 protected:
  const Tensor& forward_impl(Context& ctx, const Tensor& x) override;
  void backward_impl(Context& ctx, const Tensor& dlogits) override;

 private:
  int64_t in_channels_, classes_;
  Sequential stem_;                                  // layer0, layer1, layer2
  std::vector<std::unique_ptr<BasicBlock>> blocks_;  // layer3..layer6
  Sequential head_;                                  // layer7, layer8, seg, up
  GlobalAvgPool feature_pool_;                       // not part of the gradient path
};

}  // namespace nsal

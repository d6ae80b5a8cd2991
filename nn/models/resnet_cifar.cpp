#include "nn/models/resnet_cifar.h"

#include <algorithm>

namespace nsal {

namespace {
ConvOptions conv_opts(int spatial, int64_t in, int64_t out, int64_t kernel, int64_t stride,
                      int64_t padding) {
  return spatial == 2 ? ConvOptions::make2d(in, out, kernel, stride, padding, 1, 1, false)
                      : ConvOptions::make3d(in, out, kernel, stride, padding, 1, 1, false);
}
}  // namespace

ResNetCifar::ResNetCifar(int spatial_dims, int64_t in_channels, int64_t classes)
    : Model(spatial_dims == 2 ? "resnet18-cifar" : "resnet18-3d"),
      spatial_(spatial_dims),
      in_channels_(in_channels),
      classes_(classes) {
  NSAL_CHECK(spatial_dims == 2 || spatial_dims == 3, "resnet: spatial_dims must be 2 or 3");
  LayerAdder adder = [this](std::unique_ptr<Layer> layer) { return add_owned(std::move(layer)); };
  auto* conv1 = static_cast<ConvNd*>(adder(std::make_unique<ConvNd>(
      spatial_dims, "conv1", conv_opts(spatial_dims, in_channels, 64, 3, 1, 1))));
  conv1->set_needs_input_grad(false);
  auto* bn1 = static_cast<BatchNorm*>(adder(std::make_unique<BatchNorm>(spatial_dims, "bn1", 64)));
  stem_.push(conv1);
  stem_.push(bn1);
  stem_.push(adder(std::make_unique<ReLU>("relu")));
  stem_unit_ = std::make_unique<ConvBnUnit>(conv1, bn1);
  const int64_t widths[4] = {64, 128, 256, 512};
  int64_t in = 64;
  for (int stage = 0; stage < 4; ++stage) {
    for (int b = 0; b < 2; ++b) {
      int64_t stride = (stage > 0 && b == 0) ? 2 : 1;
      std::string name = "layer" + std::to_string(stage + 1) + "." + std::to_string(b);
      BasicBlockOptions o;
      o.spatial = spatial_dims;
      o.in = in;
      o.out = widths[stage];
      o.stride = stride;
      blocks_.push_back(std::make_unique<BasicBlock>(adder, name, o));
      in = widths[stage];
    }
  }
  pool_ = adder(std::make_unique<GlobalAvgPool>("avgpool"));
  linear_ = adder(std::make_unique<Linear>("linear", 512, classes));
}

Shape ResNetCifar::input_shape() const {
  return spatial_ == 2 ? Shape{in_channels_, 32, 32} : Shape{in_channels_, 32, 32, 32};
}

const Tensor& ResNetCifar::forward_impl(Context& ctx, const Tensor& x) {
  check_input(ctx, x);
  // MC-dropout keeps the layer path: a fused unit has no place for a dropout mask.
  last_forward_fused_ = fused_inference() && !training() && !mc_dropout();
  last_forward_bf16_ = last_forward_fused_ && ctx.math_mode() == MathMode::bf16;
  if (last_forward_bf16_) return forward_fused_bf16(ctx, x);
  if (last_forward_fused_) return forward_fused(ctx, x);
  const Tensor* h = &stem_.forward(ctx, x);
  for (auto& b : blocks_)
    h = &b->forward(ctx, *h);
  return linear_->forward(ctx, pool_->forward(ctx, *h));
}

void ResNetCifar::reserve_fold_scratch(Device device, bool bf16) {
  // Room for the largest folded convolution, once (the scratch keeps its size afterwards).
  int64_t weights = 0, channels = 0;
  for (const ConvBnUnit* u : units()) {
    weights = std::max(weights, u->weight_numel());
    channels = std::max(channels, u->channels());
  }
  fold_scratch_.reserve(weights, channels, device);
  if (bf16) fold_scratch_.reserve_bf16(weights, channels, device);
}

const Tensor& ResNetCifar::forward_fused(Context& ctx, const Tensor& x) {
  reserve_fold_scratch(x.device(), false);
  const Tensor* h = &stem_unit_->forward(ctx, x, nullptr, true, fold_scratch_);
  for (auto& b : blocks_)
    h = &b->forward_fused(ctx, *h, fold_scratch_);
  return linear_->forward(ctx, pool_->forward(ctx, *h));
}

const Tensor& ResNetCifar::forward_fused_bf16(Context& ctx, const Tensor& x) {
  reserve_fold_scratch(x.device(), true);
  to_channels_last_bf16(ctx, x, input_bf16_);
  const Tensor* h = &stem_unit_->forward_bf16(ctx, input_bf16_, nullptr, true, fold_scratch_);
  for (auto& b : blocks_)
    h = &b->forward_fused_bf16(ctx, *h, fold_scratch_);
  global_avg_pool_channels_last_bf16(ctx, *h, pooled_bf16_path_);
  return linear_->forward(ctx, pooled_bf16_path_);
}

std::vector<const ConvBnUnit*> ResNetCifar::units() const {
  std::vector<const ConvBnUnit*> all{stem_unit_.get()};
  for (auto& b : blocks_)
    for (const ConvBnUnit* u : b->units())
      all.push_back(u);
  return all;
}

int ResNetCifar::fused_units() const {
  return static_cast<int>(units().size());
}

int ResNetCifar::fused_kernels_last_forward() const {
  if (!last_forward_fused_) return 0;
  int n = 0;
  for (const ConvBnUnit* u : units())
    n += u->fused_kernel() ? 1 : 0;
  return n;
}

void ResNetCifar::backward_impl(Context& ctx, const Tensor& dlogits) {
  NSAL_CHECK(!last_forward_fused_,
             "model '{}': backward() after a fused inference forward (eval mode with "
             "set_fused_inference(true)); the fused path has no backward: turn it off for "
             "gradients",
             arch());
  const Tensor* g = &pool_->backward(ctx, linear_->backward(ctx, dlogits));
  for (size_t i = blocks_.size(); i-- > 0;)
    g = &blocks_[i]->backward(ctx, *g);
  stem_.backward(ctx, *g);
}

}  // namespace nsal

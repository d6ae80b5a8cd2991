#include "nn/models/resnet_cifar.h"

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
  Layer* conv1 = adder(std::make_unique<ConvNd>(spatial_dims, "conv1",
                                                conv_opts(spatial_dims, in_channels, 64, 3, 1, 1)));
  conv1->set_needs_input_grad(false);
  stem_.push(conv1);
  stem_.push(adder(std::make_unique<BatchNorm>(spatial_dims, "bn1", 64)));
  stem_.push(adder(std::make_unique<ReLU>("relu")));
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

const Tensor& ResNetCifar::forward(Context& ctx, const Tensor& x) {
  check_input(ctx, x);
  const Tensor* h = &stem_.forward(ctx, x);
  for (auto& b : blocks_)
    h = &b->forward(ctx, *h);
  return linear_->forward(ctx, pool_->forward(ctx, *h));
}

void ResNetCifar::backward(Context& ctx, const Tensor& dlogits) {
  const Tensor* g = &pool_->backward(ctx, linear_->backward(ctx, dlogits));
  for (size_t i = blocks_.size(); i-- > 0;)
    g = &blocks_[i]->backward(ctx, *g);
  stem_.backward(ctx, *g);
}

}  // namespace nsal

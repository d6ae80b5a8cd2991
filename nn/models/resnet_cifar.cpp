#include "nn/models/resnet_cifar.h"

namespace nsal {

namespace {
ConvOptions conv_opts(int spatial, int64_t in, int64_t out, int64_t kernel, int64_t stride,
                      int64_t padding) {
  return spatial == 2 ? ConvOptions::make2d(in, out, kernel, stride, padding, 1, 1, false)
                      : ConvOptions::make3d(in, out, kernel, stride, padding, 1, 1, false);
}
}  // namespace

template <typename AddFn>
BasicBlock::BasicBlock(AddFn&& add, const std::string& name, int spatial, int64_t in, int64_t out,
                       int64_t stride)
    : sum_(name + ".sum"), grad_sum_(name + ".grad_sum") {
  main_.push(add(std::make_unique<ConvNd>(spatial, name + ".conv1",
                                          conv_opts(spatial, in, out, 3, stride, 1))));
  main_.push(add(std::make_unique<BatchNorm>(spatial, name + ".bn1", out)));
  main_.push(add(std::make_unique<ReLU>(name + ".relu1")));
  main_.push(add(
      std::make_unique<ConvNd>(spatial, name + ".conv2", conv_opts(spatial, out, out, 3, 1, 1))));
  main_.push(add(std::make_unique<BatchNorm>(spatial, name + ".bn2", out)));
  if (stride != 1 || in != out) {
    shortcut_.push(add(std::make_unique<ConvNd>(spatial, name + ".shortcut.0",
                                                conv_opts(spatial, in, out, 1, stride, 0))));
    shortcut_.push(add(std::make_unique<BatchNorm>(spatial, name + ".shortcut.1", out)));
  }
  relu_out_ = add(std::make_unique<ReLU>(name + ".relu2"));
}

const Tensor& BasicBlock::forward(Context& ctx, const Tensor& x) {
  const Tensor& m = main_.forward(ctx, x);
  const Tensor& s = shortcut_.empty() ? x : shortcut_.forward(ctx, x);
  return relu_out_->forward(ctx, sum_.forward(ctx, m, s));
}

const Tensor& BasicBlock::backward(Context& ctx, const Tensor& dy) {
  const Tensor& dsum = relu_out_->backward(ctx, dy);
  const Tensor& dmain = main_.backward(ctx, dsum);
  const Tensor& dshort = shortcut_.empty() ? dsum : shortcut_.backward(ctx, dsum);
  return grad_sum_.forward(ctx, dmain, dshort);
}

ResNetCifar::ResNetCifar(int spatial_dims, int64_t in_channels, int64_t classes)
    : Model(spatial_dims == 2 ? "resnet18-cifar" : "resnet18-3d"),
      spatial_(spatial_dims),
      in_channels_(in_channels),
      classes_(classes) {
  NSAL_CHECK(spatial_dims == 2 || spatial_dims == 3, "resnet: spatial_dims must be 2 or 3");
  auto adder = [this](auto layer) { return add_owned(std::move(layer)); };
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
      blocks_.push_back(
          std::make_unique<BasicBlock>(adder, name, spatial_dims, in, widths[stage], stride));
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

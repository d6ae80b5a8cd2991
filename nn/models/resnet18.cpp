#include "nn/models/resnet18.h"

#include "nn/layers/activation.h"
#include "nn/layers/batchnorm.h"
#include "nn/layers/conv.h"
#include "nn/layers/linear.h"
#include "nn/layers/pool.h"

namespace nsal {

ResNet18::ResNet18(int64_t in_channels, int64_t classes)
    : Model("resnet18"), in_channels_(in_channels), classes_(classes) {
  LayerAdder adder = [this](std::unique_ptr<Layer> layer) { return add_owned(std::move(layer)); };
  Conv2d* conv1 = add<Conv2d>("conv1", in_channels, 64, 7, 2, 3, 1, 1, false);
  conv1->set_needs_input_grad(false);
  stem_.push(conv1);
  stem_.push(add<BatchNorm2d>("bn1", 64));
  stem_.push(add<ReLU>("relu"));
  stem_.push(add<MaxPool2d>("maxpool", 3, 2, 1));
  const int64_t widths[4] = {64, 128, 256, 512};
  int64_t in = 64;
  for (int stage = 0; stage < 4; ++stage) {
    for (int b = 0; b < 2; ++b) {
      BasicBlockOptions o;
      o.in = in;
      o.out = widths[stage];
      o.stride = (stage > 0 && b == 0) ? 2 : 1;
      o.shortcut = "downsample";
      std::string name = "layer" + std::to_string(stage + 1) + "." + std::to_string(b);
      blocks_.push_back(std::make_unique<BasicBlock>(adder, name, o));
      in = widths[stage];
    }
  }
  pool_ = add<GlobalAvgPool>("avgpool");
  fc_ = add<Linear>("fc", 512, classes);
}

const Tensor& ResNet18::forward_impl(Context& ctx, const Tensor& x) {
  check_input(ctx, x);
  const Tensor* h = &stem_.forward(ctx, x);  // (N, 64, H/4, W/4)
  for (auto& b : blocks_)
    h = &b->forward(ctx, *h);  // (N, 512, H/32, W/32)
  return fc_->forward(ctx, pool_->forward(ctx, *h));
}

void ResNet18::backward_impl(Context& ctx, const Tensor& dlogits) {
  const Tensor* g = &pool_->backward(ctx, fc_->backward(ctx, dlogits));
  for (size_t i = blocks_.size(); i-- > 0;)
    g = &blocks_[i]->backward(ctx, *g);
  stem_.backward(ctx, *g);
}

}  // namespace nsal

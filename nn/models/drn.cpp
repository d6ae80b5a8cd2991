#include "nn/models/drn.h"

#include "nn/layers/activation.h"
#include "nn/layers/batchnorm.h"
#include "nn/layers/conv.h"
#include "nn/layers/upsample.h"

namespace nsal {

DrnD22::DrnD22(int64_t in_channels, int64_t classes)
    : Model("drn-d-22"),
      in_channels_(in_channels),
      classes_(classes),
      feature_pool_("features.avgpool") {
  LayerAdder adder = [this](std::unique_ptr<Layer> layer) { return add_owned(std::move(layer)); };
  // conv + BN + ReLU as `<name>.0/1/2` (layer0, and drn.py's _make_conv_layers with one conv:
  // 3x3, padding = dilation).
  auto conv_layer = [&](Sequential& seq, const std::string& name, int64_t in, int64_t out,
                        int64_t kernel, int64_t stride, int64_t padding, int64_t dilation) {
    Conv2d* conv =
        add<Conv2d>(name + ".0", in, out, kernel, stride, padding, dilation, 1, /*bias=*/false);
    seq.push(conv);
    seq.push(add<BatchNorm2d>(name + ".1", out));
    seq.push(add<ReLU>(name + ".2"));
    return conv;
  };
  conv_layer(stem_, "layer0", in_channels, 16, 7, 1, 3, 1)->set_needs_input_grad(false);
  conv_layer(stem_, "layer1", 16, 16, 3, 1, 1, 1);
  conv_layer(stem_, "layer2", 16, 32, 3, 2, 1, 1);

  struct Stage {
    int64_t channels, stride, dilation;
  };
  // drn.py's _make_layer: layer5/6 pass new_level=False, so every conv of their blocks uses the
  // full dilation.
  const Stage stages[4] = {{64, 2, 1}, {128, 2, 1}, {256, 1, 2}, {512, 1, 4}};
  int64_t in = 32;
  for (int s = 0; s < 4; ++s) {
    for (int b = 0; b < 2; ++b) {
      BasicBlockOptions o;
      o.in = in;
      o.out = stages[s].channels;
      o.stride = b == 0 ? stages[s].stride : 1;
      o.dilation1 = o.dilation2 = stages[s].dilation;
      o.shortcut = "downsample";
      std::string name = "layer" + std::to_string(s + 3) + "." + std::to_string(b);
      blocks_.push_back(std::make_unique<BasicBlock>(adder, name, o));
      in = stages[s].channels;
    }
  }
  conv_layer(head_, "layer7", 512, 512, 3, 1, 2, 2);
  conv_layer(head_, "layer8", 512, 512, 3, 1, 1, 1);
  head_.push(add<Conv2d>("seg", 512, classes, 1));
  head_.push(add<UpsampleBilinear2d>("up", UpsampleScale{8, 8}));
}

const Tensor& DrnD22::forward_impl(Context& ctx, const Tensor& x) {
  check_input(ctx, x);
  NSAL_CHECK_AS(ShapeError, x.dim(2) % 8 == 0 && x.dim(3) % 8 == 0,
                "model 'drn-d-22': input {} has a height or width that is not a multiple of 8",
                x.describe());
  const Tensor* h = &stem_.forward(ctx, x);  // (N, 32, H/2, W/2)
  for (auto& b : blocks_)
    h = &b->forward(ctx, *h);  // (N, 512, H/8, W/8)
  const Tensor& y = head_.forward(ctx, *h);
  // layer8's output (the ReLU after layer8.1) feeds seg: pool it for features().
  const auto& hl = head_.layers();
  feature_pool_.forward(ctx, hl[hl.size() - 3]->output());
  return y;  // (N, classes, H, W)
}

void DrnD22::backward_impl(Context& ctx, const Tensor& dlogits) {
  const Tensor* g = &head_.backward(ctx, dlogits);
  for (size_t i = blocks_.size(); i-- > 0;)
    g = &blocks_[i]->backward(ctx, *g);
  stem_.backward(ctx, *g);
}

}  // namespace nsal

#include "nn/models/mobilenet_v2.h"

#include "nn/layers/activation.h"
#include "nn/layers/batchnorm.h"
#include "nn/layers/conv.h"
#include "nn/layers/dropout.h"
#include "nn/layers/linear.h"
#include "nn/layers/merge.h"
#include "nn/layers/pool.h"

namespace nsal {

namespace {

// conv (no bias) + BN + ReLU6 as `<name>.0`, `<name>.1`, `<name>.2` (torchvision's ConvBNReLU).
void conv_bn_relu6(const LayerAdder& add, Sequential& seq, const std::string& name, int64_t in,
                   int64_t out, int64_t kernel, int64_t stride, int64_t groups) {
  seq.push(add(std::make_unique<Conv2d>(name + ".0", in, out, kernel, stride, (kernel - 1) / 2, 1,
                                        groups, false)));
  seq.push(add(std::make_unique<BatchNorm2d>(name + ".1", out)));
  seq.push(add(std::make_unique<ReLU6>(name + ".2")));
}

}  // namespace

class InvertedResidual {
 public:
  InvertedResidual(const LayerAdder& add, const std::string& name, int64_t in, int64_t out,
                   int64_t stride, int64_t expand)
      : residual_(stride == 1 && in == out), sum_(name + ".sum"), grad_sum_(name + ".grad_sum") {
    const std::string p = name + ".conv.";
    const int64_t hidden = in * expand;
    int idx = 0;
    if (expand != 1) conv_bn_relu6(add, conv_, p + std::to_string(idx++), in, hidden, 1, 1, 1);
    conv_bn_relu6(add, conv_, p + std::to_string(idx++), hidden, hidden, 3, stride, hidden);
    conv_.push(add(
        std::make_unique<Conv2d>(p + std::to_string(idx++), hidden, out, 1, 1, 0, 1, 1, false)));
    conv_.push(add(std::make_unique<BatchNorm2d>(p + std::to_string(idx), out)));
  }

  const Tensor& forward(Context& ctx, const Tensor& x) {
    const Tensor& y = conv_.forward(ctx, x);
    return residual_ ? sum_.forward(ctx, x, y) : y;
  }
  const Tensor& backward(Context& ctx, const Tensor& dy) {
    const Tensor& dx = conv_.backward(ctx, dy);
    return residual_ ? grad_sum_.forward(ctx, dx, dy) : dx;
  }

 private:
  bool residual_;
  Sequential conv_;
  ResidualAdd sum_, grad_sum_;
};

MobileNetV2::MobileNetV2(int64_t in_channels, int64_t classes)
    : Model("mobilenet-v2"), in_channels_(in_channels), classes_(classes) {
  LayerAdder adder = [this](std::unique_ptr<Layer> layer) { return add_owned(std::move(layer)); };
  conv_bn_relu6(adder, stem_, "features.0", in_channels, 32, 3, /*stride=*/1, 1);
  stem_.layers().front()->set_needs_input_grad(false);
  struct Stage {
    int64_t t, c, n, s;
  };
  // torchvision's setting, with the 24-channel stage at stride 1 for 32x32 inputs.
  const Stage stages[7] = {{1, 16, 1, 1}, {6, 24, 2, 1},  {6, 32, 3, 2}, {6, 64, 4, 2},
                           {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  int64_t in = 32;
  int index = 1;
  for (const Stage& st : stages) {
    for (int64_t i = 0; i < st.n; ++i) {
      blocks_.push_back(std::make_unique<InvertedResidual>(
          adder, "features." + std::to_string(index++), in, st.c, i == 0 ? st.s : 1, st.t));
      in = st.c;
    }
  }
  conv_bn_relu6(adder, head_, "features." + std::to_string(index), in, 1280, 1, 1, 1);
  pool_ = add<GlobalAvgPool>("avgpool");
  head_.push(pool_);
  classifier_.push(add<Dropout>("classifier.0", 0.2));
  classifier_.push(add<Linear>("classifier.1", 1280, classes));
}

MobileNetV2::~MobileNetV2() = default;

const Tensor& MobileNetV2::forward_impl(Context& ctx, const Tensor& x) {
  check_input(ctx, x);
  const Tensor* h = &stem_.forward(ctx, x);  // (N, 32, H, W)
  for (auto& b : blocks_)
    h = &b->forward(ctx, *h);  // (N, 320, H/8, W/8)
  return classifier_.forward(ctx, head_.forward(ctx, *h));
}

void MobileNetV2::backward_impl(Context& ctx, const Tensor& dlogits) {
  const Tensor* g = &head_.backward(ctx, classifier_.backward(ctx, dlogits));
  for (size_t i = blocks_.size(); i-- > 0;)
    g = &blocks_[i]->backward(ctx, *g);
  stem_.backward(ctx, *g);
}

}  // namespace nsal

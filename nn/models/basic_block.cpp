#include "nn/models/basic_block.h"

#include "nn/layers/activation.h"
#include "nn/layers/batchnorm.h"
#include "nn/layers/conv.h"

namespace nsal {

namespace {
ConvOptions conv_opts(int spatial, int64_t in, int64_t out, int64_t kernel, int64_t stride,
                      int64_t padding, int64_t dilation) {
  return spatial == 2 ? ConvOptions::make2d(in, out, kernel, stride, padding, dilation, 1, false)
                      : ConvOptions::make3d(in, out, kernel, stride, padding, dilation, 1, false);
}
}  // namespace

BasicBlock::BasicBlock(const LayerAdder& add, const std::string& name, const BasicBlockOptions& o)
    : sum_(name + ".sum"), grad_sum_(name + ".grad_sum") {
  NSAL_CHECK(o.spatial == 2 || o.spatial == 3, "BasicBlock '{}': spatial must be 2 or 3", name);
  const int sp = o.spatial;
  auto conv = [&](const std::string& n, const ConvOptions& opt) {
    return static_cast<ConvNd*>(add(std::make_unique<ConvNd>(sp, n, opt)));
  };
  auto bn = [&](const std::string& n) {
    return static_cast<BatchNorm*>(add(std::make_unique<BatchNorm>(sp, n, o.out)));
  };
  ConvNd* conv1 =
      conv(name + ".conv1", conv_opts(sp, o.in, o.out, 3, o.stride, o.dilation1, o.dilation1));
  BatchNorm* bn1 = bn(name + ".bn1");
  main_.push(conv1);
  main_.push(bn1);
  main_.push(add(std::make_unique<ReLU>(name + ".relu1")));
  ConvNd* conv2 =
      conv(name + ".conv2", conv_opts(sp, o.out, o.out, 3, 1, o.dilation2, o.dilation2));
  BatchNorm* bn2 = bn(name + ".bn2");
  main_.push(conv2);
  main_.push(bn2);
  unit1_ = std::make_unique<ConvBnUnit>(conv1, bn1);
  unit2_ = std::make_unique<ConvBnUnit>(conv2, bn2);
  if (o.stride != 1 || o.in != o.out) {
    const std::string s = name + "." + o.shortcut;
    ConvNd* sc = conv(s + ".0", conv_opts(sp, o.in, o.out, 1, o.stride, 0, 1));
    BatchNorm* sc_bn = bn(s + ".1");
    shortcut_.push(sc);
    shortcut_.push(sc_bn);
    unit_shortcut_ = std::make_unique<ConvBnUnit>(sc, sc_bn);
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

const Tensor& BasicBlock::forward_fused(Context& ctx, const Tensor& x, FoldScratch& scratch) {
  const Tensor& h = unit1_->forward(ctx, x, nullptr, true, scratch);
  const Tensor& s = unit_shortcut_ ? unit_shortcut_->forward(ctx, x, nullptr, false, scratch) : x;
  return unit2_->forward(ctx, h, &s, true, scratch);  // relu(bn2(conv2(h)) + shortcut)
}

const Tensor& BasicBlock::forward_fused_bf16(Context& ctx, const Tensor& x, FoldScratch& scratch) {
  const Tensor& h = unit1_->forward_bf16(ctx, x, nullptr, true, scratch);
  const Tensor& s =
      unit_shortcut_ ? unit_shortcut_->forward_bf16(ctx, x, nullptr, false, scratch) : x;
  return unit2_->forward_bf16(ctx, h, &s, true, scratch);
}

std::vector<const ConvBnUnit*> BasicBlock::units() const {
  std::vector<const ConvBnUnit*> u{unit1_.get(), unit2_.get()};
  if (unit_shortcut_) u.push_back(unit_shortcut_.get());
  return u;
}

}  // namespace nsal

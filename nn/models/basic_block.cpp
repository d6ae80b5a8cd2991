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
  main_.push(add(std::make_unique<ConvNd>(
      sp, name + ".conv1", conv_opts(sp, o.in, o.out, 3, o.stride, o.dilation1, o.dilation1))));
  main_.push(add(std::make_unique<BatchNorm>(sp, name + ".bn1", o.out)));
  main_.push(add(std::make_unique<ReLU>(name + ".relu1")));
  main_.push(add(std::make_unique<ConvNd>(
      sp, name + ".conv2", conv_opts(sp, o.out, o.out, 3, 1, o.dilation2, o.dilation2))));
  main_.push(add(std::make_unique<BatchNorm>(sp, name + ".bn2", o.out)));
  if (o.stride != 1 || o.in != o.out) {
    const std::string s = name + "." + o.shortcut;
    shortcut_.push(
        add(std::make_unique<ConvNd>(sp, s + ".0", conv_opts(sp, o.in, o.out, 1, o.stride, 0, 1))));
    shortcut_.push(add(std::make_unique<BatchNorm>(sp, s + ".1", o.out)));
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

}  // namespace nsal

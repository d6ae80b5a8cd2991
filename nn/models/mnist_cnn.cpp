#include "nn/models/mnist_cnn.h"

namespace nsal {

MnistCnn::MnistCnn(int64_t in_channels, int64_t classes)
    : Model("mnist-cnn"), in_channels_(in_channels), classes_(classes) {
  Conv2d* conv1 = add<Conv2d>("conv1", in_channels, 32, 5);
  conv1->set_needs_input_grad(false);
  body_.push(conv1);
  body_.push(add<Dropout>("conv1_drop", 0.25));
  body_.push(add<MaxPool2d>("pool1", 2));
  body_.push(add<ReLU>("relu1"));
  body_.push(add<Conv2d>("conv2", 32, 64, 5));
  body_.push(add<Dropout>("conv2_drop", 0.25));
  body_.push(add<MaxPool2d>("pool2", 2));
  body_.push(add<ReLU>("relu2"));
  body_.push(add<Flatten>("flatten"));
  body_.push(add<Linear>("fc1", 1024, 128));
  body_.push(add<Dropout>("fc1_drop", 0.5));
  body_.push(add<ReLU>("relu3"));
  fc2_ = add<Linear>("fc2", 128, classes);
}

const Tensor& MnistCnn::forward_impl(Context& ctx, const Tensor& x) {
  check_input(ctx, x);
  return fc2_->forward(ctx, body_.forward(ctx, x));
}

void MnistCnn::backward_impl(Context& ctx, const Tensor& dlogits) {
  body_.backward(ctx, fc2_->backward(ctx, dlogits));
}

}  // namespace nsal

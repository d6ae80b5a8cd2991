// mnist-cnn: the small CNN of the MNIST-style active-learning protocol.
//   conv1 (1->32, 5x5) -> dropout -> max pool 2 -> ReLU
//   conv2 (32->64, 5x5) -> dropout -> max pool 2 -> ReLU
//   fc1 (1024->128) -> dropout -> ReLU -> fc2 (128->classes)
// for 28x28 inputs. Dropout p is 0.25 after the convolutions and 0.5 after fc1; features() is
// the 128-wide ReLU output before fc2.
#pragma once

#include "nn/layers/activation.h"
#include "nn/layers/conv.h"
#include "nn/layers/dropout.h"
#include "nn/layers/linear.h"
#include "nn/layers/pool.h"
#include "nn/layers/reshape.h"
#include "nn/model.h"

namespace nsal {

class MnistCnn : public Model {
 public:
  MnistCnn(int64_t in_channels, int64_t classes);
  Shape input_shape() const override { return {in_channels_, 28, 28}; }
  int64_t num_outputs() const override { return classes_; }
  const Tensor& features() const override { return body_.output(); }

 protected:
  const Tensor& forward_impl(Context& ctx,
                             const Tensor& x) override;  // (N, C, 28, 28) -> (N, classes)
  void backward_impl(Context& ctx, const Tensor& dlogits) override;

 private:
  int64_t in_channels_, classes_;
  Sequential body_;  // up to the features
  Linear* fc2_;
};

}  // namespace nsal

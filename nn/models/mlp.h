// mlp: a multilayer perceptron for tabular inputs (F,), for regression or classification:
//   fc1 (F -> h1) + ReLU, fc2 (h1 -> h2) + ReLU, ..., dropout (p = 0.1), head (h_last -> outputs)
// Hidden widths are configurable (default 512, 256, 128, 64). Names: `fc1` ... `fcK` for the
// hidden layers and `head` for the output layer, as in a PyTorch module with those attributes;
// one name per layer also makes each layer its own noise group. The dropout before the head
// (`drop`, no parameters) is what MC-dropout keeps on at inference: the output variance over
// passes is its regression score (the paper's Ames experiment). features() is the last hidden
// ReLU output (N, h_last). The outputs are raw (logits for classification, values for
// regression).
#pragma once

#include <vector>

#include "nn/model.h"

namespace nsal {

class Mlp : public Model {
 public:
  static std::vector<int64_t> default_hidden() { return {512, 256, 128, 64}; }
  static constexpr double kDropout = 0.1;
  Mlp(int64_t in_features, int64_t outputs, std::vector<int64_t> hidden = default_hidden());
  Shape input_shape() const override { return {in_features_}; }
  int64_t num_outputs() const override { return outputs_; }
  ModelSpec spec() const override;
  const Tensor& features() const override { return body_.output(); }

 protected:
  const Tensor& forward_impl(Context& ctx, const Tensor& x) override;  // (N, F) -> (N, outputs)
  void backward_impl(Context& ctx, const Tensor& doutput) override;

 private:
  int64_t in_features_, outputs_;
  std::vector<int64_t> hidden_;
  Sequential body_;  // fc1, relu1, ..., fcK, reluK
  Layer* drop_;
  Layer* head_;
};

}  // namespace nsal

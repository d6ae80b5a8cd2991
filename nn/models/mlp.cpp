#include "nn/models/mlp.h"

#include "nn/layers/activation.h"
#include "nn/layers/dropout.h"
#include "nn/layers/linear.h"

namespace nsal {

Mlp::Mlp(int64_t in_features, int64_t outputs, std::vector<int64_t> hidden)
    : Model("mlp"), in_features_(in_features), outputs_(outputs), hidden_(std::move(hidden)) {
  NSAL_CHECK(!hidden_.empty(), "model 'mlp': needs at least one hidden layer");
  int64_t in = in_features;
  for (size_t i = 0; i < hidden_.size(); ++i) {
    NSAL_CHECK(hidden_[i] >= 1, "model 'mlp': hidden width {} is {}, must be positive", i + 1,
               hidden_[i]);
    std::string k = std::to_string(i + 1);
    Linear* fc = add<Linear>("fc" + k, in, hidden_[i]);
    if (i == 0) fc->set_needs_input_grad(false);
    body_.push(fc);
    body_.push(add<ReLU>("relu" + k));
    in = hidden_[i];
  }
  drop_ = add<Dropout>("drop", kDropout);
  head_ = add<Linear>("head", in, outputs);
}

ModelSpec Mlp::spec() const {
  ModelSpec s = Model::spec();
  s.hidden = hidden_;
  return s;
}

const Tensor& Mlp::forward_impl(Context& ctx, const Tensor& x) {
  check_input(ctx, x);
  return head_->forward(ctx, drop_->forward(ctx, body_.forward(ctx, x)));
}

void Mlp::backward_impl(Context& ctx, const Tensor& doutput) {
  body_.backward(ctx, drop_->backward(ctx, head_->backward(ctx, doutput)));
}

}  // namespace nsal

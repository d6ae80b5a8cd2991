// Losses with PyTorch's mean reduction. Each forward() returns the loss as a double and keeps
// pointers to its inputs, which must stay alive and unchanged until backward(); backward()
// returns d(loss)/d(input) * grad_scale in a buffer the loss owns and reuses.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nn/context.h"
#include "nn/tensor.h"

namespace nsal {

// Shared checks and state of the losses below.
class Loss {
 public:
  explicit Loss(std::string name) : name_(std::move(name)) {}
  virtual ~Loss() = default;
  Loss(const Loss&) = delete;
  Loss& operator=(const Loss&) = delete;

  const std::string& name() const { return name_; }  // "CrossEntropyLoss"
  const Tensor& grad() const { return grad_; }       // the last backward()'s result

 protected:
  [[noreturn]] void fail(const std::string& what) const;
  // input: a contiguous float tensor on the context's device.
  void check_input(Context& ctx, const Tensor& t, const char* what) const;
  const Tensor& saved_input() const;

  std::string name_;
  const Tensor* input_ = nullptr;
  const Tensor* target_ = nullptr;
  Tensor grad_;
};

struct CrossEntropyOptions {
  std::vector<double> class_weights;  // (C,) or empty for equal weights
  int32_t ignore_index = -100;        // targets equal to it count for nothing (255: segmentation)
};

// Cross entropy over logits (N, C) or (N, C, d1, ...) with int32 targets (N) or (N, d1, ...):
// loss = sum_i w[t_i] * (logsumexp(x_i) - x_i[t_i]) / sum_i w[t_i] over the positions whose
// target is not ignore_index (NaN when every target is ignored, as PyTorch). A target outside
// [0, C) that is not ignore_index throws, naming the label and its position.
class CrossEntropyLoss : public Loss {
 public:
  explicit CrossEntropyLoss(CrossEntropyOptions opt = {});
  const CrossEntropyOptions& options() const { return opt_; }

  double forward(Context& ctx, const Tensor& logits, const Tensor& target);
  const Tensor& backward(Context& ctx, double grad_scale = 1.0);

 private:
  CrossEntropyOptions opt_;
  Tensor weight_;  // class weights in the logits' dtype
  Tensor lse_;     // (N, d1, ...) float64 log-sum-exp of the last forward
  double weight_sum_ = 0;
};

// mean((x - t)^2) over all elements; x and t of the same shape and dtype.
class MSELoss : public Loss {
 public:
  MSELoss() : Loss("MSELoss") {}
  double forward(Context& ctx, const Tensor& input, const Tensor& target);
  const Tensor& backward(Context& ctx, double grad_scale = 1.0);
};

// mean(|x - t|) over all elements; the gradient at x == t is 0 (sign(0), as PyTorch).
class L1Loss : public Loss {
 public:
  L1Loss() : Loss("L1Loss") {}
  double forward(Context& ctx, const Tensor& input, const Tensor& target);
  const Tensor& backward(Context& ctx, double grad_scale = 1.0);
};

}  // namespace nsal

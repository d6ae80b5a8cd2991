// Losses with PyTorch's mean reduction. Each forward() returns the loss as a double and keeps
// pointers to its inputs, which must stay alive and unchanged until backward(); backward()
// returns d(loss)/d(input) * grad_scale in a buffer the loss owns and reuses.
//
// On a CUDA device (float32 inputs) the loss is reduced on the device into a small result
// buffer the loss owns, and backward() reads what it needs there (cross-entropy's weight sum)
// without the host. Returning the value as a double needs one device-to-host read, which waits
// for the queued work: forward() does that read once per call. A training loop that wants no
// host synchronisation per step calls forward_async() instead and loss_value() only when it
// needs the number (logging); loss_value() reads the device result once and keeps it.
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

  // The loss of the last forward_async() / forward(). On the GPU the first call after a forward
  // reads it from the device (one synchronisation) and checks it (cross-entropy: a NaN loss
  // caused by a label out of range throws, naming the label); later calls return the kept value.
  double loss_value();

 protected:
  [[noreturn]] void fail(const std::string& what) const;
  // input: a contiguous float tensor on the context's device.
  void check_input(Context& ctx, const Tensor& t, const char* what) const;
  const Tensor& saved_input() const;
  // The device result buffer of the GPU path: one double (the weight sum of cross-entropy) and
  // one float (the loss) after it, read back together by loss_value().
  double* gpu_weight_sum(Device device);
  float* gpu_loss();
  // Called by loss_value() with the value just read from the device.
  virtual void check_gpu_loss(double loss) { (void)loss; }
  // MSE / L1 on the GPU: queues `reduce` (kernels::gpu::mse_forward or l1_forward) into the
  // result buffer (nn/losses.cpp).
  template <typename F>
  void regression_forward_gpu(Context& ctx, F reduce, const Tensor& input, const Tensor& target);

  std::string name_;
  const Tensor* input_ = nullptr;
  const Tensor* target_ = nullptr;
  Tensor grad_;
  double loss_ = 0;            // the last forward's value once on the host
  bool loss_pending_ = false;  // the value is still on the device (gpu_result_)
  Tensor gpu_result_;          // (2,) float64 on the device: weight sum, then the float loss
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
  // The same without reading the value (see the top of this file); loss_value() returns it.
  void forward_async(Context& ctx, const Tensor& logits, const Tensor& target);
  const Tensor& backward(Context& ctx, double grad_scale = 1.0);

 private:
  void forward_gpu(Context& ctx, const Tensor& logits, const Tensor& target);
  void backward_gpu(Context& ctx, double grad_scale);
  void check_gpu_loss(double loss) override;
  // Throws naming the first target outside [0, C) that is not ignore_index (host labels).
  void check_labels(const int32_t* t, int64_t n, int64_t C, int64_t S) const;

  CrossEntropyOptions opt_;
  Tensor weight_;  // class weights in the logits' dtype (on the GPU: uploaded once)
  Tensor lse_;     // (N, d1, ...) float64 log-sum-exp of the last forward (CPU)
  double weight_sum_ = 0;
};

// Mean of an elementwise error between an input and a target of the same shape and dtype:
// squared (MSE) or absolute (L1). One implementation for both, on the CPU and the GPU.
class ElementwiseLoss : public Loss {
 public:
  enum class Kind { squared, absolute };
  double forward(Context& ctx, const Tensor& input, const Tensor& target);
  void forward_async(Context& ctx, const Tensor& input, const Tensor& target);
  const Tensor& backward(Context& ctx, double grad_scale = 1.0);

 protected:
  ElementwiseLoss(std::string name, Kind kind) : Loss(std::move(name)), kind_(kind) {}

 private:
  Kind kind_;
};

// mean((x - t)^2) over all elements.
class MSELoss : public ElementwiseLoss {
 public:
  MSELoss() : ElementwiseLoss("MSELoss", Kind::squared) {}
};

// mean(|x - t|) over all elements; the gradient at x == t is 0 (sign(0), as PyTorch).
class L1Loss : public ElementwiseLoss {
 public:
  L1Loss() : ElementwiseLoss("L1Loss", Kind::absolute) {}
};

}  // namespace nsal

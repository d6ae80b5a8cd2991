// Layer: the base of every single-input layer. The public non-virtual forward()/backward() check
// shapes, dtype and device and then call the backend implementation. Outputs and input gradients
// live in buffers the layer owns and reuses, or in slices of a memory plan's arena
// (nn/memory_plan.h), so a warm training step allocates nothing.
//
// Contract: the input passed to forward() must stay alive and unchanged until backward() of the
// same step (it is the previous layer's output buffer in a model) when backward_reads() says the
// backward reads it; under a training plan an input no backward reads may be overwritten once
// the forwards that read it have run. backward() works in eval mode
// too (BatchNorm with running statistics), which the Jacobian checks of acquisition rely on.
// backward() accumulates (+=) into the parameter gradients in the arena; ParamArena::zero_grad()
// clears them.
#pragma once

#include <string>

#include "nn/context.h"
#include "nn/param_arena.h"
#include "nn/tensor.h"

namespace nsal {

class Layer {
 public:
  Layer(std::string type, std::string name) : type_(std::move(type)), name_(std::move(name)) {}
  virtual ~Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  const std::string& type() const { return type_; }  // "conv2d"
  const std::string& name() const { return name_; }  // "layer1.0.conv1"

  // Declares parameters and buffers (names are prefixed with this layer's name).
  virtual void declare(ParamArena& arena) { (void)arena; }

  void set_training(bool on) { training_ = on; }
  bool training() const { return training_; }
  // False for a model's first layer: backward() then skips the input gradient.
  void set_needs_input_grad(bool on) { needs_input_grad_ = on; }
  bool needs_input_grad() const { return needs_input_grad_; }

  // True when forward() would hand back its input unchanged and change no state (eval-mode
  // Dropout): a Sequential then passes the tensor on without calling the layer, saving a copy.
  virtual bool is_identity() const { return false; }

  // Which of its forward tensors backward_impl() reads on the CPU (gpu = false) or the GPU
  // backend: a training memory plan (nn/memory_plan.h) lets a layer output that no backward
  // reads share its bytes with later buffers. Both by default; a layer that declares less than
  // it reads computes wrong gradients under the plan (tests/test_memory_plan.cpp compares every
  // model with and without it).
  struct BackwardReads {
    bool input = true;
    bool output = true;
  };
  virtual BackwardReads backward_reads(bool gpu) const {
    (void)gpu;
    return {};
  }

  // The output shape for an input shape; throws ShapeError naming this layer when it does not fit.
  virtual Shape output_shape(const Shape& in) const = 0;

  const Tensor& forward(Context& ctx, const Tensor& x);    // (input) -> (output_shape(input))
  const Tensor& backward(Context& ctx, const Tensor& dy);  // (output) -> (input); empty if !needs
  const Tensor& output() const { return out_; }

 protected:
  virtual void forward_impl(Context& ctx, const Tensor& x, Tensor& y) = 0;
  // dx is null when the input gradient is not needed; parameter gradients are always accumulated.
  virtual void backward_impl(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                             Tensor* dx) = 0;

  // "conv2d 'layer1.0.conv1': <what>"
  [[noreturn]] void fail(const std::string& what) const;
  std::string prefixed(const std::string& param) const { return name_ + "." + param; }
  // Throws unless `p` (a parameter of this layer) matches x in dtype and device.
  void check_param(const Tensor& x, const Tensor& p, const char* pname) const;
  // True when x runs on the GPU backend (float32 on CUDA); float64 on CUDA throws naming the layer.
  bool use_gpu(const Tensor& x) const;

 private:
  std::string type_, name_;
  bool training_ = true;
  bool needs_input_grad_ = true;
  const Tensor* saved_input_ = nullptr;
  bool inference_output_ = false;  // the last forward's output is a slice of an inference plan
  Tensor out_, dx_;
};

}  // namespace nsal

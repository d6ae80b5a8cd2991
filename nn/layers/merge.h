// Ops with several inputs, used by model graphs (not Layer subclasses): the residual sum and
// concatenation along channels. Like layers, they own and reuse their output and gradient
// buffers, check shapes, dtype and device, and name themselves in errors. Each runs on the
// backend of its inputs' device (float32 on CUDA: the add, axpy, concat and split GPU ops).
#pragma once

#include <string>
#include <vector>

#include "nn/context.h"
#include "nn/tensor.h"

namespace nsal {

// y = a + b (same shape, dtype and device).
class ResidualAdd {
 public:
  explicit ResidualAdd(std::string name) : name_(std::move(name)) {}
  ResidualAdd(const ResidualAdd&) = delete;
  ResidualAdd& operator=(const ResidualAdd&) = delete;

  const std::string& name() const { return name_; }
  const Tensor& forward(Context& ctx, const Tensor& a, const Tensor& b);
  const Tensor& output() const { return out_; }

  // d(loss)/da = d(loss)/db = dy: both gradients are dy itself, checked against the output.
  struct Grads {
    const Tensor& a;
    const Tensor& b;
  };
  Grads backward(Context& ctx, const Tensor& dy) const;

 private:
  std::string name_;
  Tensor out_;
};

// Concatenation along dimension 1 of tensors (N, C_i, ...) that agree in every other dimension.
class Concat {
 public:
  explicit Concat(std::string name) : name_(std::move(name)) {}
  Concat(const Concat&) = delete;
  Concat& operator=(const Concat&) = delete;

  const std::string& name() const { return name_; }
  const Tensor& forward(Context& ctx, const std::vector<const Tensor*>& inputs);
  const Tensor& output() const { return out_; }
  // Splits dy (N, sum C_i, ...) into one gradient per input of the last forward, in order.
  const std::vector<Tensor>& backward(Context& ctx, const Tensor& dy);

 private:
  std::string name_;
  Tensor out_;
  std::vector<Shape> in_shapes_;
  std::vector<Tensor> grads_;
  // Host arrays the GPU concat/split ops take (kept to avoid reallocating them every step).
  std::vector<const float*> gpu_ptrs_;
  std::vector<float*> gpu_dst_;
  std::vector<int64_t> gpu_channels_;
};

// dst += src for gradient fan-in (a tensor read by two ops); same shape, dtype and device.
void accumulate_into(Context& ctx, Tensor& dst, const Tensor& src, const std::string& who);

}  // namespace nsal

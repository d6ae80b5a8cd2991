// Backend selection for layers and losses: on_gpu() picks the CUDA ops by the tensor's device;
// dispatch_cpu_float() runs a CPU kernel for the element type of a float tensor: f(float{}) or
// f(double{}). `who` names the caller in errors ("relu 'layer1.0.relu'", "CrossEntropyLoss").
#pragma once

#include <string>

#include "kernels/error.h"
#include "nn/tensor.h"

namespace nsal {

template <typename F>
void dispatch_cpu_float(const std::string& who, const Tensor& x, F&& f) {
  if (!x.device().is_cpu())
    throw Error(who + ": no kernel for " + x.device().str() + " in this build (input " +
                x.describe() + ")");
  switch (x.dtype()) {
    case DType::f32:
      f(float{});
      return;
    case DType::f64:
      f(double{});
      return;
    default:
      throw ShapeError(who + ": expected a float32 or float64 tensor, got " + x.describe());
  }
}

// "relu 'layer1.0.relu'" for error messages of layer-like objects.
inline std::string layer_label(const std::string& type, const std::string& name) {
  return type + " '" + name + "'";
}

// Whether `x` selects the GPU backend: true for a float32 tensor on a CUDA device (the GPU ops of
// kernels/cuda_ops.h are float32 only), false for a host tensor. Any other dtype on a CUDA device
// throws, naming the caller (`who()` builds the label only on that path).
template <typename Who>
bool on_gpu(const Tensor& x, Who&& who) {
  if (!x.device().is_cuda()) return false;
  if (x.dtype() != DType::f32)
    throw ShapeError(who() + ": the CUDA backend runs float32 only, got " + x.describe() +
                     " (float64 runs on the CPU)");
  return true;
}

}  // namespace nsal

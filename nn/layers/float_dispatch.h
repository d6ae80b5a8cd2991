// Runs a CPU kernel for the element type of a float tensor: f(float{}) or f(double{}).
// `who` names the caller in errors ("relu 'layer1.0.relu'", "CrossEntropyLoss").
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

}  // namespace nsal

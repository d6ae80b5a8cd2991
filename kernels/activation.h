// Per-element ReLU and ReLU6 (forward and backward), shared by the CPU loops and CUDA kernels.
// Semantics follow PyTorch: NaN propagates through the forward; the gradient is zero at the
// kinks (x <= 0 for ReLU; x <= 0 or x >= 6 for ReLU6, as hardtanh_backward).
#pragma once

#include "kernels/hd.h"

namespace nsal::kernels {

template <typename T>
NSAL_HD T relu_forward(T x) {
  return x < T(0) ? T(0) : x;
}
template <typename T>
NSAL_HD T relu_backward(T x, T dy) {
  return x > T(0) ? dy : T(0);
}

template <typename T>
NSAL_HD T relu6_forward(T x) {
  return x < T(0) ? T(0) : (x > T(6) ? T(6) : x);
}
template <typename T>
NSAL_HD T relu6_backward(T x, T dy) {
  return (x > T(0) && x < T(6)) ? dy : T(0);
}

}  // namespace nsal::kernels

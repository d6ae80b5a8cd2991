// Per-element ReLU and ReLU6 (forward and backward), shared by the CPU loops and CUDA kernels.
// Semantics follow PyTorch: NaN propagates through the forward; the backward zeroes the gradient
// where the value is <= 0 (ReLU) or outside (0, 6) (ReLU6), as threshold_backward and
// hardtanh_backward do, so a NaN passes the gradient. The backward may be given the forward's
// output y in place of x: y <= 0 exactly where x <= 0, y >= 6 exactly where x >= 6, and y is NaN
// exactly where x is, so the gradient is the same bit for bit.
#pragma once

#include "kernels/hd.h"

namespace nsal::kernels {

template <typename T>
NSAL_HD T relu_forward(T x) {
  return x < T(0) ? T(0) : x;
}
template <typename T>
NSAL_HD T relu_backward(T x, T dy) {
  return x <= T(0) ? T(0) : dy;
}

template <typename T>
NSAL_HD T relu6_forward(T x) {
  return x < T(0) ? T(0) : (x > T(6) ? T(6) : x);
}
template <typename T>
NSAL_HD T relu6_backward(T x, T dy) {
  return (x <= T(0) || x >= T(6)) ? T(0) : dy;
}

}  // namespace nsal::kernels

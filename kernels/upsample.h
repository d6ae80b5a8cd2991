// Bilinear resampling with PyTorch's align_corners=False convention, shared by the CPU loops and
// CUDA kernels: output pixel o samples input coordinate (o + 0.5) * scale - 0.5 (clamped at 0),
// where scale = 1 / scale_factor when a scale factor was given, else in_size / out_size.
#pragma once

#include <cstdint>

#include "kernels/hd.h"

namespace nsal::kernels {

// Input-per-output step of one dimension; scale_factor <= 0 means "derive from the sizes".
template <typename T>
NSAL_HD T bilinear_step(int64_t in_size, int64_t out_size, double scale_factor) {
  return scale_factor > 0 ? static_cast<T>(1.0 / scale_factor)
                          : static_cast<T>(in_size) / static_cast<T>(out_size);
}

// The two taps and their weights for output index o (i1 == i0 at the last input index).
template <typename T>
struct BilinearTaps {
  int64_t i0, i1;
  T w0, w1;
};

template <typename T>
NSAL_HD BilinearTaps<T> bilinear_taps(T step, int64_t o, int64_t in_size) {
  T src = step * (static_cast<T>(o) + T(0.5)) - T(0.5);
  if (src < T(0)) src = T(0);
  int64_t i0 = static_cast<int64_t>(src);  // src >= 0: truncation is floor
  if (i0 > in_size - 1) i0 = in_size - 1;
  T lambda = src - static_cast<T>(i0);
  if (lambda < T(0)) lambda = T(0);
  if (lambda > T(1)) lambda = T(1);
  BilinearTaps<T> t;
  t.i0 = i0;
  t.i1 = i0 < in_size - 1 ? i0 + 1 : i0;
  t.w0 = T(1) - lambda;
  t.w1 = lambda;
  return t;
}

}  // namespace nsal::kernels

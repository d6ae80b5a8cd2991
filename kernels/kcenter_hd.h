// Per-row work of greedy k-center (kernels/select.h), shared by the CPU loop and the CUDA
// kernels: the squared distance in a fixed order. Lane l (of 32) sums the columns j = l mod 32
// in increasing j with fma in double; the lanes are then combined by the tree of a warp
// shuffle-down (offsets 16, 8, 4, 2, 1), which the CPU replays.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/hd.h"

namespace nsal::kernels {

constexpr int kKCenterLanes = 32;

NSAL_HD double kc_fma(double a, double b, double c) {
#ifdef __CUDA_ARCH__
  return __fma_rn(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}

// Lane partial: columns lane, lane + 32, ... of ||x - c||^2 (c == nullptr: the origin).
NSAL_HD double kc_lane_partial(const float* x, const float* c, int64_t d, int lane) {
  double acc = 0.0;
  for (int64_t j = lane; j < d; j += kKCenterLanes) {
    const double diff = static_cast<double>(x[j]) - (c ? static_cast<double>(c[j]) : 0.0);
    acc = kc_fma(diff, diff, acc);
  }
  return acc;
}

// The whole distance on one thread (the CPU path), in the canonical order; the loop over the
// 32 lanes vectorizes.
inline double kc_sq_distance(const float* x, const float* c, int64_t d) {
  double lanes[kKCenterLanes] = {};
  const int64_t full = d / kKCenterLanes * kKCenterLanes;
  if (c) {
    for (int64_t j0 = 0; j0 < full; j0 += kKCenterLanes)
      for (int l = 0; l < kKCenterLanes; ++l) {
        const double diff = static_cast<double>(x[j0 + l]) - static_cast<double>(c[j0 + l]);
        lanes[l] = std::fma(diff, diff, lanes[l]);
      }
  } else {
    for (int64_t j0 = 0; j0 < full; j0 += kKCenterLanes)
      for (int l = 0; l < kKCenterLanes; ++l) {
        const double v = static_cast<double>(x[j0 + l]);
        lanes[l] = std::fma(v, v, lanes[l]);
      }
  }
  for (int l = 0; full + l < d; ++l) {
    const double diff =
        static_cast<double>(x[full + l]) - (c ? static_cast<double>(c[full + l]) : 0.0);
    lanes[l] = std::fma(diff, diff, lanes[l]);
  }
  for (int off = kKCenterLanes / 2; off >= 1; off /= 2)
    for (int l = 0; l < off; ++l)
      lanes[l] = lanes[l] + lanes[l + off];
  return lanes[0];
}

// Argmax order: larger value first, then lower index (NaN handled by the callers).
NSAL_HD bool kc_better(double v, int64_t i, double bv, int64_t bi) {
  return v > bv || (v == bv && i < bi);
}

}  // namespace nsal::kernels

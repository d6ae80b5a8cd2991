// Dropout masks from Philox4x32-10 (kernels/philox.h), identical on the CPU and the GPU:
// element i of the mask at step s depends only on (seed, s, i). One Philox call gives four
// words; element i uses word i % 4 of the call with key = seed and counter = (i / 4, s).
// An element is dropped when its word is below p * 2^32, so the keep probability is exact to
// 2^-32 and the decision is an integer comparison with no rounding differences between devices.
#pragma once

#include <cstdint>

#include "kernels/hd.h"
#include "kernels/philox.h"

namespace nsal::kernels {

// Drop threshold for probability p in [0, 1]; 2^32 drops everything.
NSAL_HD uint64_t dropout_threshold(double p) {
  if (p <= 0.0) return 0;
  if (p >= 1.0) return 1ull << 32;
  return static_cast<uint64_t>(p * 4294967296.0);
}

// The four words of mask group g (elements 4g .. 4g + 3) at `step`.
NSAL_HD philox::U32x4 dropout_group(uint64_t seed, uint64_t step, uint64_t group) {
  return philox::philox4x32_10(philox::make_counter(group, step), philox::make_key(seed));
}

NSAL_HD bool dropout_keep(uint32_t word, uint64_t threshold) {
  return static_cast<uint64_t>(word) >= threshold;
}

// Whether element i is kept (one Philox call; loops should use dropout_group per 4 elements).
NSAL_HD bool dropout_keep_element(uint64_t seed, uint64_t step, uint64_t i, uint64_t threshold) {
  return dropout_keep(dropout_group(seed, step, i >> 2).v[i & 3], threshold);
}

}  // namespace nsal::kernels

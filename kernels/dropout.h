// Dropout masks from the counter-based generator (kernels/philox.h): element i of the call with
// step `step` is kept when the first word of Philox4x32-10(key = seed, counter = (i, step)),
// mapped to (0, 1], exceeds p. The mask depends only on (seed, step, i), so the CPU and the GPU
// drop the same elements, and backward regenerates the mask instead of storing it.
#pragma once

#include <cstdint>

#include "kernels/hd.h"
#include "kernels/philox.h"

namespace nsal::kernels {

NSAL_HD bool dropout_keep(uint64_t seed, uint64_t step, uint64_t i, float p) {
  philox::U32x4 r = philox::philox4x32_10(philox::make_counter(i, step), philox::make_key(seed));
  return philox::u32_to_unit_float(r.v[0]) > p;
}

// Kept elements are scaled by 1 / (1 - p) (inverted dropout, as PyTorch); p == 1 drops all.
NSAL_HD float dropout_scale(float p) {
  return p < 1.f ? 1.f / (1.f - p) : 0.f;
}

}  // namespace nsal::kernels

// cuRAND's Philox4_32_10 device generator, as a reference for nsal's own Philox layout
// (kernels/noise.h). Defined in tests/curand_reference.cu when CUDA is compiled.
#pragma once

#include <cstdint>

namespace nsal::testing {

// curand_init(seed, subsequence, offset, &state), then `count` calls of curand(&state), on one
// GPU thread; the raw 32-bit outputs are written to host memory.
void curand_philox_words(uint64_t seed, uint64_t subsequence, uint64_t offset, int count,
                         uint32_t* host_out);

}  // namespace nsal::testing

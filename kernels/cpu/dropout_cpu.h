// Dropout on the CPU: y[i] = x[i] * scale where element i is kept, else 0 (kernels/dropout.h).
// The same call with the same (seed, step) applies the identical mask to the output gradient.
#pragma once

#include <cstdint>

namespace nsal::kernels::cpu {

template <typename T>
void dropout_apply(const T* x, T* y, int64_t n, uint64_t seed, uint64_t step, uint64_t threshold,
                   T scale);

}  // namespace nsal::kernels::cpu

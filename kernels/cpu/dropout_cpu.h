// Dropout on the CPU: y[i] = x[i] * scale where element i is kept, else 0 (kernels/dropout.h).
// The same call with the same (seed, step, rows) applies the identical mask to the output
// gradient.
#pragma once

#include <cstdint>

namespace nsal::kernels::cpu {

// The n elements are masked as `rows` rows of n / rows elements, row r at step + r, or at
// step + row_keys[r] when row keys (one per row, host memory) are given (kernels/dropout.h);
// rows must divide n.
template <typename T>
void dropout_apply(const T* x, T* y, int64_t n, uint64_t seed, uint64_t step, uint64_t threshold,
                   T scale, int64_t rows = 1, const int32_t* row_keys = nullptr);

}  // namespace nsal::kernels::cpu

// Launch helpers for the own CUDA kernels (included by .cu files only).
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cuda/check.h"

namespace nsal::cuda {

constexpr int kBlock = 256;

// Blocks for a grid-stride loop over n elements (at least 1, at most 2^20; the loop covers
// the rest).
inline unsigned grid_for(int64_t n, int block = kBlock) {
  int64_t g = (n + block - 1) / block;
  return static_cast<unsigned>(std::clamp<int64_t>(g, 1, int64_t{1} << 20));
}

}  // namespace nsal::cuda

// for (i in [0, n)) over the whole grid.
#define NSAL_GRID_STRIDE(i, n)                                                           \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

namespace nsal::cuda {

// Butterfly reductions over a warp: every lane gets the result, in a fixed order.
__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1)
    v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1)
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

}  // namespace nsal::cuda

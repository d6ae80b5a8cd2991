#include <curand_kernel.h>

#include "kernels/cuda/check.h"
#include "tests/curand_reference.h"

namespace nsal::testing {

namespace {
__global__ void curand_words_kernel(uint64_t seed, uint64_t subsequence, uint64_t offset, int count,
                                    uint32_t* out) {
  curandStatePhilox4_32_10_t state;
  curand_init(seed, subsequence, offset, &state);
  for (int i = 0; i < count; ++i)
    out[i] = curand(&state);
}
}  // namespace

void curand_philox_words(uint64_t seed, uint64_t subsequence, uint64_t offset, int count,
                         uint32_t* host_out) {
  uint32_t* d = nullptr;
  NSAL_CUDA_CHECK(cudaMalloc(&d, sizeof(uint32_t) * count));
  curand_words_kernel<<<1, 1>>>(seed, subsequence, offset, count, d);
  NSAL_CUDA_CHECK_LAUNCH();
  cudaError_t e = cudaMemcpy(host_out, d, sizeof(uint32_t) * count, cudaMemcpyDeviceToHost);
  cudaFree(d);
  NSAL_CUDA_CHECK(e);
}

}  // namespace nsal::testing

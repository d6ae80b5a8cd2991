#include "kernels/cuda/validate.h"

#include <cuda_runtime.h>

namespace nsal::cuda {

void check_device_ptr(const void* p, const char* arg, const char* op) {
  NSAL_CHECK_AS(CudaError, p != nullptr, "{}: {} is null", op, arg);
  cudaPointerAttributes a{};
  cudaError_t e = cudaPointerGetAttributes(&a, p);
  if (e != cudaSuccess) {
    cudaGetLastError();  // not sticky; clear it so the next check does not see it
    throw CudaError(fmt::format("{}: cannot query {} ({}): {}", op, arg, p, cudaGetErrorString(e)));
  }
  NSAL_CHECK_AS(CudaError, a.type == cudaMemoryTypeDevice || a.type == cudaMemoryTypeManaged,
                "{}: {} ({}) is not device memory (host pointer passed to a GPU op?)", op, arg, p);
}

}  // namespace nsal::cuda

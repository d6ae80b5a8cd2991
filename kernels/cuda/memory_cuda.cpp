// CUDA side of kernels/memory.h (compiled only when the CUDA backend is).
#include <cstring>

#include "kernels/cuda/check.h"
#include "kernels/memory.h"

namespace nsal::kernels {

bool cuda_compiled() {
  return true;
}

namespace {
struct DeviceProbe {
  int count = 0;
  const char* reason = "";
  DeviceProbe() {
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
      count = 0;
      reason = cudaGetErrorString(e);
      cudaGetLastError();  // clear the sticky error so later calls are not confused
    } else if (count == 0) {
      reason = "no CUDA device found";
    }
  }
};
const DeviceProbe& probe() {
  static DeviceProbe p;
  return p;
}
}  // namespace

int cuda_device_count() {
  return probe().count;
}
const char* cuda_unavailable_reason() {
  return probe().reason;
}

void* cuda_alloc(size_t bytes, int device, const char* what) {
  if (bytes == 0) return nullptr;
  NSAL_CUDA_CHECK(cudaSetDevice(device));
  void* p = nullptr;
  const size_t limit = allocation_limit();
  cudaError_t e = limit > 0 && bytes > limit ? cudaErrorMemoryAllocation : cudaMalloc(&p, bytes);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    throw OutOfMemoryError(fmt::format(
        "out of GPU memory allocating {} ({:.1f} MiB) on cuda:{}: {:.1f} MiB free of {:.1f} MiB{}",
        what, bytes / 1048576.0, device, free_b / 1048576.0, total_b / 1048576.0,
        limit > 0 && bytes > limit ? fmt::format(" (allocation limit {} bytes)", limit) : ""));
  }
  NSAL_CUDA_CHECK(e);
  return p;
}

void cuda_free(void* p) noexcept {
  if (p) cudaFree(p);
}

void copy_bytes(void* dst, bool dst_on_cuda, const void* src, bool src_on_cuda, size_t bytes) {
  if (bytes == 0) return;
  if (!dst_on_cuda && !src_on_cuda) {
    std::memcpy(dst, src, bytes);
    return;
  }
  NSAL_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDefault));
}

void zero_bytes(void* p, bool on_cuda, size_t bytes) {
  if (bytes == 0) return;
  if (!on_cuda) {
    std::memset(p, 0, bytes);
    return;
  }
  NSAL_CUDA_CHECK(cudaMemset(p, 0, bytes));
}

}  // namespace nsal::kernels

#include <cublas_api.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <fmt/format.h>

#include "kernels/backend_info.h"
#include "kernels/memory.h"

namespace nsal::kernels {

static std::string version_str(int v) {
  return fmt::format("{}.{}", v / 1000, (v % 1000) / 10);
}

void fill_cuda_info(BackendInfo& info) {
  int rt = 0, drv = 0;
  if (cudaRuntimeGetVersion(&rt) == cudaSuccess) info.cuda_runtime = version_str(rt);
  if (cudaDriverGetVersion(&drv) == cudaSuccess && drv > 0) info.cuda_driver = version_str(drv);
  size_t v = cudnnGetVersion();
  info.cudnn = fmt::format("{}.{}.{}", v / 10000, (v % 10000) / 100, v % 100);
  int major = 0, minor = 0, patch = 0;
  if (cublasGetProperty(MAJOR_VERSION, &major) == CUBLAS_STATUS_SUCCESS &&
      cublasGetProperty(MINOR_VERSION, &minor) == CUBLAS_STATUS_SUCCESS &&
      cublasGetProperty(PATCH_LEVEL, &patch) == CUBLAS_STATUS_SUCCESS)
    info.cublas = fmt::format("{}.{}.{}", major, minor, patch);
  int n = cuda_device_count();
  for (int i = 0; i < n; ++i) {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
    info.gpus.push_back({i, p.name, p.major, p.minor, p.multiProcessorCount, p.totalGlobalMem});
  }
}

}  // namespace nsal::kernels

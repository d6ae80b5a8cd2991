#include "nn/context.h"

#include <omp.h>

#include "kernels/backend_info.h"

namespace nsal {

Context::Context(Device device) : device_(device), threads_(omp_get_max_threads()) {}

void* Context::workspace(size_t bytes) {
  if (bytes > workspace_.capacity_bytes() || workspace_.device() != device_ || !workspace_.raw()) {
    // Grow by half again so that a slowly growing request does not reallocate every time.
    size_t grow = bytes + bytes / 2;
    workspace_.resize({static_cast<int64_t>(grow)}, DType::u8, device_, "workspace");
  }
  return workspace_.raw();
}

kernels::GpuExec Context::gpu() {
  NSAL_CHECK(device_.is_cuda(), "Context::gpu(): this context runs on {}, not on a CUDA device",
             device_.str());
  if (!gpu_) gpu_ = kernels::make_gpu_handles(device_.index);
  return kernels::GpuExec{gpu_.get(), &gpu_workspace_, math_, deterministic_, conv_autotune_};
}

void Context::synchronize() {
  if (gpu_) kernels::gpu_synchronize(gpu());
}

void Context::set_threads(int n) {
  NSAL_CHECK(n >= 1, "threads: expected at least 1, got {}", n);
  threads_ = n;
  omp_set_num_threads(n);
  kernels::set_blas_threads(n);
}

}  // namespace nsal

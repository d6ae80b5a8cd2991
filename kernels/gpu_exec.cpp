#include "kernels/gpu_exec.h"

#include "kernels/error.h"

namespace nsal::kernels {

void throw_cuda_not_compiled(const char* op) {
  throw CudaError(
      fmt::format("{}: nsal was built without the CUDA backend (configure with nvcc "
                  "and cuDNN available, -DNSAL_CUDA=ON)",
                  op));
}

#ifndef NSAL_WITH_CUDA
// Host-only build: the GPU entry points exist and say why they cannot work.
void GpuHandlesDeleter::operator()(GpuHandles*) const noexcept {}
GpuHandlesPtr make_gpu_handles(int) {
  throw_cuda_not_compiled("creating GPU handles");
}
void gpu_synchronize(const GpuExec&) {
  throw_cuda_not_compiled("gpu_synchronize");
}
void* gpu_stream(const GpuExec&) {
  throw_cuda_not_compiled("gpu_stream");
}
#endif

}  // namespace nsal::kernels

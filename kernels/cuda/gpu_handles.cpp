#include "kernels/cuda/gpu_handles.h"

#include "kernels/cuda/check.h"
#include "kernels/cuda/conv_plan.h"
#include "kernels/memory.h"

namespace nsal::kernels {

GpuHandles::GpuHandles(int device) : device_(device) {
  int count = cuda_device_count();
  NSAL_CHECK_AS(CudaError, count > 0, "cannot create GPU handles on cuda:{}: {}", device,
                cuda_unavailable_reason());
  NSAL_CHECK_AS(CudaError, device >= 0 && device < count,
                "cannot create GPU handles on cuda:{}: only {} device(s) answer", device, count);
  try {
    NSAL_CUDA_CHECK(cudaSetDevice(device));
    NSAL_CUDA_CHECK(cudaGetDeviceProperties(&props_, device));
    // Blocking stream: ordered with the legacy default stream that cudaMemcpy uses.
    NSAL_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamDefault));
    NSAL_CUDNN_CHECK(cudnnCreate(&cudnn_));
    NSAL_CUDNN_CHECK(cudnnSetStream(cudnn_, stream_));
    NSAL_CUBLAS_CHECK(cublasCreate(&cublas_));
    NSAL_CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
    // Strict fp32 unless an op asks otherwise through its compute type (see linear_cublas.cpp).
    NSAL_CUBLAS_CHECK(cublasSetMathMode(cublas_, CUBLAS_DEFAULT_MATH));
    NSAL_CUBLAS_CHECK(cublasSetPointerMode(cublas_, CUBLAS_POINTER_MODE_HOST));
    cublas_workspace_ = cuda_alloc(kCublasWorkspaceBytes, device, "cuBLAS workspace");
    NSAL_CUBLAS_CHECK(cublasSetWorkspace(cublas_, cublas_workspace_, kCublasWorkspaceBytes));
    descs_ = std::make_unique<cuda::DescCache>();
    conv_plans_ = std::make_unique<cuda::ConvPlanCache>();
  } catch (...) {
    release();
    throw;
  }
}

GpuHandles::~GpuHandles() {
  release();
}

void GpuHandles::release() noexcept {
  // Queued work may still use the workspaces: wait for it before anything is freed.
  if (stream_) cudaStreamSynchronize(stream_);
  conv_plans_.reset();
  descs_.reset();
  if (cublas_) cublasDestroy(cublas_);
  if (cudnn_) cudnnDestroy(cudnn_);
  if (stream_) cudaStreamDestroy(stream_);
  cuda_free(cublas_workspace_);
  cublas_ = nullptr;
  cudnn_ = nullptr;
  stream_ = nullptr;
  cublas_workspace_ = nullptr;
}

void GpuHandles::activate() const {
  int cur = -1;
  NSAL_CUDA_CHECK(cudaGetDevice(&cur));
  if (cur != device_) NSAL_CUDA_CHECK(cudaSetDevice(device_));
}

void GpuHandlesDeleter::operator()(GpuHandles* h) const noexcept {
  delete h;
}

GpuHandlesPtr make_gpu_handles(int device) {
  return GpuHandlesPtr(new GpuHandles(device));
}

void gpu_synchronize(const GpuExec& ex) {
  NSAL_CUDA_CHECK(cudaStreamSynchronize(cuda::stream_of(ex, "gpu_synchronize")));
}

void* gpu_stream(const GpuExec& ex) {
  return cuda::stream_of(ex, "gpu_stream");
}

}  // namespace nsal::kernels

namespace nsal::cuda {

kernels::GpuHandles& handles_of(const kernels::GpuExec& ex, const char* op) {
  NSAL_CHECK_AS(CudaError, ex.handles != nullptr,
                "{}: no GPU handles (run it through a cuda Context)", op);
  ex.handles->activate();
  return *ex.handles;
}

void* workspace_of(const kernels::GpuExec& ex, size_t bytes, const char* op) {
  if (bytes == 0) return nullptr;
  NSAL_CHECK_AS(CudaError, ex.workspace != nullptr,
                "{}: needs {} bytes of workspace, exec has none", op, bytes);
  return ex.workspace->get(bytes);
}

}  // namespace nsal::cuda

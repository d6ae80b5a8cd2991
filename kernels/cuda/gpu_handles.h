// GpuHandles: one CUDA stream on one device with the cuDNN and cuBLAS handles bound to it, and
// the per-shape caches of cuDNN descriptors and convolution algorithms. Owned by a Context
// (nn/context.h) through kernels::GpuHandlesPtr; created on first GPU use, released by RAII.
//
// The stream is a blocking stream (it synchronises with the legacy default stream), so the
// plain cudaMemcpy of kernels/memory.h orders correctly with the ops queued on it.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <memory>

#include "kernels/cuda/cudnn_desc.h"
#include "kernels/gpu_exec.h"

namespace nsal::cuda {
class ConvPlanCache;  // kernels/cuda/conv_plan.h
}

namespace nsal::kernels {

class GpuHandles {
 public:
  explicit GpuHandles(int device);
  ~GpuHandles();
  GpuHandles(const GpuHandles&) = delete;
  GpuHandles& operator=(const GpuHandles&) = delete;

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }
  cudnnHandle_t cudnn() const { return cudnn_; }
  cublasHandle_t cublas() const { return cublas_; }
  const cudaDeviceProp& props() const { return props_; }

  // Makes this handle's device the current one (a host call; cheap when it already is).
  void activate() const;

  ::nsal::cuda::DescCache& descs() { return *descs_; }
  ::nsal::cuda::ConvPlanCache& conv_plans() { return *conv_plans_; }

  // Bytes of the fixed cuBLAS workspace (cuBLAS never allocates inside a step).
  static constexpr size_t kCublasWorkspaceBytes = size_t{32} << 20;

 private:
  void release() noexcept;

  int device_ = 0;
  cudaDeviceProp props_{};
  cudaStream_t stream_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  void* cublas_workspace_ = nullptr;
  std::unique_ptr<::nsal::cuda::DescCache> descs_;
  std::unique_ptr<::nsal::cuda::ConvPlanCache> conv_plans_;
};

}  // namespace nsal::kernels

namespace nsal::cuda {

// The handles of an exec, checked and made current: throws naming `op` when the exec has none.
kernels::GpuHandles& handles_of(const kernels::GpuExec& ex, const char* op);
// The stream of an exec, checked the same way.
inline cudaStream_t stream_of(const kernels::GpuExec& ex, const char* op) {
  return handles_of(ex, op).stream();
}
// Scratch memory of at least `bytes` from the exec's workspace (nullptr for 0 bytes).
void* workspace_of(const kernels::GpuExec& ex, size_t bytes, const char* op);

}  // namespace nsal::cuda

// The one error-check macro family for CUDA, cuDNN, cuBLAS and cuRAND. Each names the failed
// call, the file and the line, and throws nsal::CudaError, or nsal::OutOfMemoryError when the
// library ran out of memory (library code never exits).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <curand.h>

#include "kernels/error.h"

namespace nsal::cuda {

const char* cublas_status_name(cublasStatus_t s);
const char* curand_status_name(curandStatus_t s);

// out_of_memory: the status says an allocation failed (OutOfMemoryError instead of CudaError).
[[noreturn]] void throw_cuda_error(const char* lib, const char* call, const char* what,
                                   const char* file, int line, bool out_of_memory = false);

}  // namespace nsal::cuda

#define NSAL_CUDA_CHECK(call)                                                                \
  do {                                                                                       \
    cudaError_t nsal_err_ = (call);                                                          \
    if (nsal_err_ != cudaSuccess)                                                            \
      ::nsal::cuda::throw_cuda_error("CUDA", #call, cudaGetErrorString(nsal_err_), __FILE__, \
                                     __LINE__, nsal_err_ == cudaErrorMemoryAllocation);      \
  } while (0)

#define NSAL_CUDNN_CHECK(call)                                                  \
  do {                                                                          \
    cudnnStatus_t nsal_err_ = (call);                                           \
    if (nsal_err_ != CUDNN_STATUS_SUCCESS)                                      \
      ::nsal::cuda::throw_cuda_error(                                           \
          "cuDNN", #call, cudnnGetErrorString(nsal_err_), __FILE__, __LINE__,   \
          nsal_err_ == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED ||  \
              nsal_err_ == CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED); \
  } while (0)

#define NSAL_CUBLAS_CHECK(call)                                                                    \
  do {                                                                                             \
    cublasStatus_t nsal_err_ = (call);                                                             \
    if (nsal_err_ != CUBLAS_STATUS_SUCCESS)                                                        \
      ::nsal::cuda::throw_cuda_error("cuBLAS", #call, ::nsal::cuda::cublas_status_name(nsal_err_), \
                                     __FILE__, __LINE__, nsal_err_ == CUBLAS_STATUS_ALLOC_FAILED); \
  } while (0)

#define NSAL_CURAND_CHECK(call)                                                                    \
  do {                                                                                             \
    curandStatus_t nsal_err_ = (call);                                                             \
    if (nsal_err_ != CURAND_STATUS_SUCCESS)                                                        \
      ::nsal::cuda::throw_cuda_error("cuRAND", #call, ::nsal::cuda::curand_status_name(nsal_err_), \
                                     __FILE__, __LINE__,                                           \
                                     nsal_err_ == CURAND_STATUS_ALLOCATION_FAILED);                \
  } while (0)

// After a kernel launch: reports a bad launch configuration at the launch site.
#define NSAL_CUDA_CHECK_LAUNCH() NSAL_CUDA_CHECK(cudaGetLastError())

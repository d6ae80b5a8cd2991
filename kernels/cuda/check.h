// The one error-check macro family for CUDA, cuDNN, cuBLAS and cuRAND. Each names the failed
// call, the file and the line, and throws nsal::CudaError (library code never exits).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <curand.h>

#include "kernels/error.h"

namespace nsal::cuda {

const char* cublas_status_name(cublasStatus_t s);
const char* curand_status_name(curandStatus_t s);

[[noreturn]] void throw_cuda_error(const char* lib, const char* call, const char* what,
                                   const char* file, int line);

}  // namespace nsal::cuda

#define NSAL_CUDA_CHECK(call)                                                                \
  do {                                                                                       \
    cudaError_t nsal_err_ = (call);                                                          \
    if (nsal_err_ != cudaSuccess)                                                            \
      ::nsal::cuda::throw_cuda_error("CUDA", #call, cudaGetErrorString(nsal_err_), __FILE__, \
                                     __LINE__);                                              \
  } while (0)

#define NSAL_CUDNN_CHECK(call)                                                                 \
  do {                                                                                         \
    cudnnStatus_t nsal_err_ = (call);                                                          \
    if (nsal_err_ != CUDNN_STATUS_SUCCESS)                                                     \
      ::nsal::cuda::throw_cuda_error("cuDNN", #call, cudnnGetErrorString(nsal_err_), __FILE__, \
                                     __LINE__);                                                \
  } while (0)

#define NSAL_CUBLAS_CHECK(call)                                                                    \
  do {                                                                                             \
    cublasStatus_t nsal_err_ = (call);                                                             \
    if (nsal_err_ != CUBLAS_STATUS_SUCCESS)                                                        \
      ::nsal::cuda::throw_cuda_error("cuBLAS", #call, ::nsal::cuda::cublas_status_name(nsal_err_), \
                                     __FILE__, __LINE__);                                          \
  } while (0)

#define NSAL_CURAND_CHECK(call)                                                                    \
  do {                                                                                             \
    curandStatus_t nsal_err_ = (call);                                                             \
    if (nsal_err_ != CURAND_STATUS_SUCCESS)                                                        \
      ::nsal::cuda::throw_cuda_error("cuRAND", #call, ::nsal::cuda::curand_status_name(nsal_err_), \
                                     __FILE__, __LINE__);                                          \
  } while (0)

// After a kernel launch: reports a bad launch configuration at the launch site.
#define NSAL_CUDA_CHECK_LAUNCH() NSAL_CUDA_CHECK(cudaGetLastError())

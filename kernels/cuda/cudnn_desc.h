// RAII owners of cuDNN descriptors, and a cache of the packed fp32 tensor descriptors and pooling
// descriptors the ops need, so that a steady-state op call creates none (host-side only).
#pragma once

#include <cudnn.h>

#include <array>
#include <map>

#include "kernels/cuda/check.h"

namespace nsal::cuda {

template <typename T, cudnnStatus_t (*Create)(T*), cudnnStatus_t (*Destroy)(T)>
class CudnnDesc {
 public:
  CudnnDesc() { NSAL_CUDNN_CHECK(Create(&d_)); }
  ~CudnnDesc() {
    if (d_) Destroy(d_);
  }
  CudnnDesc(const CudnnDesc&) = delete;
  CudnnDesc& operator=(const CudnnDesc&) = delete;
  CudnnDesc(CudnnDesc&& o) noexcept : d_(o.d_) { o.d_ = nullptr; }
  CudnnDesc& operator=(CudnnDesc&&) = delete;
  T get() const { return d_; }
  operator T() const { return d_; }

 private:
  T d_ = nullptr;
};

using TensorDesc =
    CudnnDesc<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor>;
using FilterDesc =
    CudnnDesc<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor, cudnnDestroyFilterDescriptor>;
using ConvDesc = CudnnDesc<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor,
                           cudnnDestroyConvolutionDescriptor>;
using PoolDesc = CudnnDesc<cudnnPoolingDescriptor_t, cudnnCreatePoolingDescriptor,
                           cudnnDestroyPoolingDescriptor>;
using ActivationDesc = CudnnDesc<cudnnActivationDescriptor_t, cudnnCreateActivationDescriptor,
                                 cudnnDestroyActivationDescriptor>;

// Sets `d` to a fully packed fp32 tensor of `nd` (4 or 5) dims, row-major (NCHW / NCDHW).
void set_packed_tensor(cudnnTensorDescriptor_t d, const int* dims, int nd);

// Descriptors made once per distinct shape and kept for the life of the handles.
class DescCache {
 public:
  // Packed fp32 (N, C, H, W) or (N, C, D, H, W) tensor.
  cudnnTensorDescriptor_t tensor(const int* dims, int nd);
  // Pooling over `spatial` (2 or 3) dims.
  cudnnPoolingDescriptor_t pooling(cudnnPoolingMode_t mode, int spatial, const int* window,
                                   const int* pad, const int* stride);

 private:
  using Key = std::array<int, 12>;
  std::map<Key, TensorDesc> tensors_;
  std::map<Key, PoolDesc> pools_;
};

}  // namespace nsal::cuda

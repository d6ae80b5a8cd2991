#include "kernels/cuda/cudnn_desc.h"

#include <cstdint>

#include "kernels/memory.h"

namespace nsal::cuda {

void set_packed_tensor(cudnnTensorDescriptor_t d, const int* dims, int nd) {
  NSAL_CHECK(nd >= 4 && nd <= 5, "cuDNN tensor descriptor: expected 4 or 5 dims, got {}", nd);
  int strides[5];
  int64_t acc = 1;
  for (int i = nd - 1; i >= 0; --i) {
    strides[i] = static_cast<int>(acc);
    acc *= dims[i];
  }
  // cuDNN's legacy descriptors index with 32-bit integers.
  NSAL_CHECK_AS(BatchTooLargeError, acc <= kernels::descriptor_element_limit(),
                "cuDNN tensor descriptor: {} elements exceed {} (split the batch)", acc,
                kernels::descriptor_element_limit());
  NSAL_CUDNN_CHECK(cudnnSetTensorNdDescriptor(d, CUDNN_DATA_FLOAT, nd, dims, strides));
}

cudnnTensorDescriptor_t DescCache::tensor(const int* dims, int nd) {
  Key k{};
  k[0] = nd;
  for (int i = 0; i < nd; ++i)
    k[1 + i] = dims[i];
  auto it = tensors_.find(k);
  if (it != tensors_.end()) return it->second;
  TensorDesc d;
  set_packed_tensor(d, dims, nd);
  return tensors_.emplace(k, std::move(d)).first->second;
}

cudnnPoolingDescriptor_t DescCache::pooling(cudnnPoolingMode_t mode, int spatial, const int* window,
                                            const int* pad, const int* stride) {
  Key k{};
  k[0] = static_cast<int>(mode);
  k[1] = spatial;
  for (int i = 0; i < spatial; ++i) {
    k[2 + i] = window[i];
    k[5 + i] = pad[i];
    k[8 + i] = stride[i];
  }
  auto it = pools_.find(k);
  if (it != pools_.end()) return it->second;
  PoolDesc d;
  // Max pooling propagates NaN like PyTorch's max_pool.
  NSAL_CUDNN_CHECK(
      cudnnSetPoolingNdDescriptor(d, mode, CUDNN_PROPAGATE_NAN, spatial, window, pad, stride));
  return pools_.emplace(k, std::move(d)).first->second;
}

}  // namespace nsal::cuda

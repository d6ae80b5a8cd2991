// Device copies of host vectors for the GPU tests (and the skip every GPU test starts with).
#pragma once

#include <gtest/gtest.h>

#include <vector>

#include "kernels/memory.h"
#include "tests/gpu_skip.h"

namespace nsal::testing {

template <class T>
class CudaBuffer {
 public:
  explicit CudaBuffer(size_t n) : n_(n) {
    p_ = static_cast<T*>(kernels::cuda_alloc(n * sizeof(T) + 1, 0, "test buffer"));
  }
  explicit CudaBuffer(const std::vector<T>& v) : CudaBuffer(v.size()) { upload(v); }
  ~CudaBuffer() { kernels::cuda_free(p_); }
  CudaBuffer(const CudaBuffer&) = delete;
  CudaBuffer& operator=(const CudaBuffer&) = delete;

  void upload(const std::vector<T>& v) {
    kernels::copy_bytes(p_, true, v.data(), false, v.size() * sizeof(T));
  }
  std::vector<T> host() const {
    std::vector<T> v(n_);
    kernels::copy_bytes(v.data(), false, p_, true, n_ * sizeof(T));
    return v;
  }
  T* get() const { return p_; }
  size_t size() const { return n_; }

 private:
  T* p_ = nullptr;
  size_t n_ = 0;
};

}  // namespace nsal::testing

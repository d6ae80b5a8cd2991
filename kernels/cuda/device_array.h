// RAII device memory for kernel-side tables and scratch (one typed allocation, move-only).
// Grows on demand with resize(); never shrinks, so steady-state calls allocate nothing.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <utility>
#include <vector>

#include "kernels/cuda/check.h"
#include "kernels/memory.h"

namespace nsal::kernels {

template <class T>
class DeviceArray {
 public:
  DeviceArray() = default;
  DeviceArray(size_t n, int device, const char* what) { resize(n, device, what); }
  ~DeviceArray() { cuda_free(p_); }
  DeviceArray(DeviceArray&& o) noexcept { swap(o); }
  DeviceArray& operator=(DeviceArray&& o) noexcept {
    swap(o);
    return *this;
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  // Keeps the allocation when it is large enough; contents are not preserved on growth.
  void resize(size_t n, int device, const char* what) {
    if (n > cap_) {
      cuda_free(p_);
      p_ = nullptr;
      cap_ = 0;
      p_ = static_cast<T*>(cuda_alloc(n * sizeof(T), device, what));
      cap_ = n;
    }
    n_ = n;
  }
  // Uploads a host vector (resizing to fit), asynchronously on `stream`; the vector must
  // outlive the copy (callers keep their tables as members or synchronise).
  void upload(const std::vector<T>& v, int device, const char* what, cudaStream_t stream) {
    resize(v.size(), device, what);
    if (!v.empty())
      NSAL_CUDA_CHECK(
          cudaMemcpyAsync(p_, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice, stream));
  }
  // Synchronous download of the first n elements.
  std::vector<T> download(size_t n, cudaStream_t stream) const {
    NSAL_CHECK(n <= n_, "device array: download of {} elements from {}", n, n_);
    std::vector<T> v(n);
    if (n) {
      NSAL_CUDA_CHECK(cudaMemcpyAsync(v.data(), p_, n * sizeof(T), cudaMemcpyDeviceToHost, stream));
      NSAL_CUDA_CHECK(cudaStreamSynchronize(stream));
    }
    return v;
  }

  T* get() const { return p_; }
  size_t size() const { return n_; }
  size_t capacity_bytes() const { return cap_ * sizeof(T); }

 private:
  void swap(DeviceArray& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    std::swap(cap_, o.cap_);
  }
  T* p_ = nullptr;
  size_t n_ = 0, cap_ = 0;
};

}  // namespace nsal::kernels

// Context: which backend runs, its scratch workspace and numeric settings. One per model/run.
// The GPU handles (stream, cuDNN, cuBLAS) live here too when the CUDA backend is compiled.
#pragma once

#include <cstddef>

#include "nn/dtype.h"
#include "nn/tensor.h"

namespace nsal {

// Precision of the GPU math. Acquisition defaults to strict fp32 (DESIGN section 4).
enum class MathMode : uint8_t { strict_fp32, tf32, bf16 };

class Context {
 public:
  explicit Context(Device device = Device::cpu());
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  Device device() const { return device_; }

  // Scratch memory for one op at a time on this context's device. Grows on demand and is kept,
  // so the steady state of a training step or scoring pass allocates nothing.
  void* workspace(size_t bytes);
  template <typename T>
  T* workspace_as(size_t count) {
    return static_cast<T*>(workspace(count * sizeof(T)));
  }
  size_t workspace_bytes() const { return workspace_.capacity_bytes(); }

  // Threads of the CPU backend (OpenMP). Defaults to the OpenMP default.
  int threads() const { return threads_; }
  void set_threads(int n);

  MathMode math_mode() const { return math_; }
  void set_math_mode(MathMode m) { math_ = m; }
  // Only deterministic algorithms (cuDNN); the CPU backend always is.
  bool deterministic() const { return deterministic_; }
  void set_deterministic(bool d) { deterministic_ = d; }

 private:
  Device device_;
  Tensor workspace_;
  int threads_ = 1;
  MathMode math_ = MathMode::strict_fp32;
  bool deterministic_ = false;
};

}  // namespace nsal

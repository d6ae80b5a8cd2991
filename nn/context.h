// Context: which backend runs, its scratch workspace and numeric settings. One per model/run.
// The GPU handles (stream, cuDNN, cuBLAS) live here too when the CUDA backend is compiled.
#pragma once

#include <cstddef>

#include "kernels/gpu_exec.h"
#include "kernels/math_mode.h"
#include "nn/dtype.h"
#include "nn/tensor.h"

namespace nsal {

class MemoryPlan;

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
  // Only deterministic algorithms (cuDNN), on by default: the same seed on the same backend gives
  // bit-identical training curves, scores and selections (DESIGN section 4). Off lets cuDNN pick
  // algorithms that sum with atomics (sometimes faster, results vary in the last bits from run to
  // run). The CPU backend always is deterministic.
  bool deterministic() const { return deterministic_; }
  void set_deterministic(bool d) { deterministic_ = d; }
  // GPU convolutions (forward, backward data, backward filter) timed once per shape and
  // direction and the fastest kept (kernels::GpuExec conv_autotune; like
  // torch.backends.cudnn.benchmark). Off by default: cuDNN's heuristics give the same choice in
  // every process; timing may not. The first call of each shape and direction waits for the
  // trials, in a temporary allocation of its output's size plus 256 MiB.
  bool conv_autotune() const { return conv_autotune_; }
  void set_conv_autotune(bool on) { conv_autotune_ = on; }

  // The memory plan of the pass under way (nn/memory_plan.h): Model::infer's, or the training
  // plan during Model::forward and Model::backward of a training step; null otherwise. Ops take
  // their buffers through plan_output(), which consults it.
  MemoryPlan* memory_plan() const { return plan_; }
  void set_memory_plan(MemoryPlan* plan) { plan_ = plan; }

  // What a GPU op of kernels/cuda_ops.h needs: this context's stream with its cuDNN and cuBLAS
  // handles (created on the first call, on device().index), its workspace, math mode and
  // deterministic flag. Throws Error for a cpu context, CudaError when no GPU answers.
  kernels::GpuExec gpu();
  // True once gpu() has created the handles.
  bool gpu_started() const { return gpu_ != nullptr; }
  // Waits for the GPU work queued on this context (a no-op on the CPU or before any GPU use).
  void synchronize();

 private:
  // Hands the context's workspace to GPU ops.
  class GpuWorkspaceOf final : public kernels::GpuWorkspace {
   public:
    explicit GpuWorkspaceOf(Context* c) : ctx_(c) {}
    void* get(size_t bytes) override { return ctx_->workspace(bytes); }

   private:
    Context* ctx_;
  };

  Device device_;
  Tensor workspace_;
  int threads_ = 1;
  MathMode math_ = MathMode::strict_fp32;
  bool deterministic_ = true;
  bool conv_autotune_ = false;
  MemoryPlan* plan_ = nullptr;
  // Declared after workspace_: destroyed first, so queued GPU work finishes before the
  // workspace it uses is freed.
  kernels::GpuHandlesPtr gpu_;
  GpuWorkspaceOf gpu_workspace_{this};
};

}  // namespace nsal

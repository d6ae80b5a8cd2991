// Where a GPU op runs: the stream and the cuDNN/cuBLAS handles bound to it, the scratch memory
// the op may use, and the numeric settings. This header needs no CUDA headers, so nn/ (and a
// CPU-only build) can hold and pass these objects; the handles are defined in
// kernels/cuda/gpu_handles.h.
//
// Steady state: no GPU op allocates device memory or waits for the device. An op's scratch
// memory comes from GpuExec::workspace (the Context's one growing workspace), its cuDNN
// descriptors and algorithm choices are made once per shape and cached in the handles. After one
// warm-up pass with the same shapes, a training step or scoring pass can therefore be captured
// in a CUDA graph. The warm-up is required: choosing algorithms and growing the workspace
// allocate.
#pragma once

#include <cstddef>
#include <memory>

#include "kernels/math_mode.h"

namespace nsal::kernels {

class GpuHandles;  // stream + cuDNN + cuBLAS of one device (kernels/cuda/gpu_handles.h)

struct GpuHandlesDeleter {
  void operator()(GpuHandles* h) const noexcept;
};
using GpuHandlesPtr = std::unique_ptr<GpuHandles, GpuHandlesDeleter>;

// Creates a stream and the cuDNN and cuBLAS handles bound to it on CUDA device `device`.
// Throws CudaError naming the reason when the backend is not compiled or no such device answers.
GpuHandlesPtr make_gpu_handles(int device);

// Scratch device memory for one op at a time: get(bytes) returns at least `bytes`, valid until
// the next get(). An op asks once and carves what it needs from that block.
class GpuWorkspace {
 public:
  virtual ~GpuWorkspace() = default;
  virtual void* get(size_t bytes) = 0;
};

struct GpuExec {
  GpuHandles* handles = nullptr;
  GpuWorkspace* workspace = nullptr;
  MathMode math = MathMode::strict_fp32;
  // Only algorithms cuDNN reports deterministic, for all three convolution directions (the
  // other GPU ops always are). Context::gpu() passes the context's flag, on by default.
  bool deterministic = true;
  // Forward convolutions: cuDNN times its algorithms once per shape on the first call's data and
  // the fastest allowed one is kept (like torch.backends.cudnn.benchmark), instead of taking its
  // heuristics' first choice. The choice can differ between processes, and with it the last bits
  // of the results; off by default.
  bool conv_autotune = false;
};

// Waits until everything queued on ex's stream has run (tests, benchmarks, host reads; never
// inside a training step).
void gpu_synchronize(const GpuExec& ex);
// ex's stream as a cudaStream_t behind void*, for the pointer-based kernels that take a stream
// (kernels/noise_perturber.h, kernels/deviation.h) from code compiled without CUDA headers.
void* gpu_stream(const GpuExec& ex);

// Thrown by every GPU op in a build without the CUDA backend: names the op.
[[noreturn]] void throw_cuda_not_compiled(const char* op);

}  // namespace nsal::kernels

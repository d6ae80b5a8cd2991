// Dropout with the Philox mask of kernels/dropout.h (same elements as the CPU backend).
#include "kernels/cuda/gpu_handles.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/validate.h"
#include "kernels/cuda_ops.h"
#include "kernels/dropout.h"

namespace nsal::cuda {
namespace {

// Used for forward (src = x) and backward (src = dy): the mask and scale are the same.
// threshold and scale come from the host, computed from p in double exactly as the CPU does.
// One thread per group of four elements: one Philox call gives the four words of the group.
__global__ void dropout_kernel(int64_t n, uint64_t threshold, float scale, uint64_t seed,
                               uint64_t step, const float* src, float* dst) {
  const int64_t groups = (n + 3) / 4;
  NSAL_GRID_STRIDE(g, groups) {
    const auto words = kernels::dropout_group(seed, step, static_cast<uint64_t>(g));
    const int64_t first = 4 * g;
    for (int j = 0; j < 4 && first + j < n; ++j)
      dst[first + j] = kernels::dropout_keep(words.v[j], threshold) ? src[first + j] * scale : 0.f;
  }
}

void dropout_run(const kernels::GpuExec& ex, int64_t n, double p, uint64_t seed, uint64_t step,
                 const float* src, float* dst, const char* op) {
  check_non_negative(n, "n", op);
  NSAL_CHECK(p >= 0.f && p <= 1.f, "{}: p must be in [0, 1], got {}", op, p);
  cudaStream_t s = stream_of(ex, op);
  if (n == 0) return;
  check_device_ptr(src, "input", op);
  check_device_ptr(dst, "output", op);
  const float scale = p < 1.0 ? static_cast<float>(1.0 / (1.0 - p)) : 0.0f;
  dropout_kernel<<<grid_for((n + 3) / 4), kBlock, 0, s>>>(n, kernels::dropout_threshold(p), scale,
                                                          seed, step, src, dst);
  NSAL_CUDA_CHECK_LAUNCH();
}

}  // namespace
}  // namespace nsal::cuda

namespace nsal::kernels::gpu {

void dropout_forward(const GpuExec& ex, int64_t n, double p, uint64_t seed, uint64_t step,
                     const float* x, float* y) {
  cuda::dropout_run(ex, n, p, seed, step, x, y, "dropout_forward");
}

void dropout_backward(const GpuExec& ex, int64_t n, double p, uint64_t seed, uint64_t step,
                      const float* dy, float* dx) {
  cuda::dropout_run(ex, n, p, seed, step, dy, dx, "dropout_backward");
}

}  // namespace nsal::kernels::gpu

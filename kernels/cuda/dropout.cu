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
// One thread per group of four elements of a row: one Philox call gives the four words of the
// group (kernels/dropout.h: dropout_row_group, as the CPU loop).
// step_on_device: when not null, the step is read there (a counted training step) instead.
__global__ void dropout_kernel(int64_t groups, int64_t per_row, int64_t groups_per_row,
                               uint64_t threshold, float scale, uint64_t seed, uint64_t step,
                               const uint64_t* step_on_device, const int32_t* row_keys,
                               const float* src, float* dst) {
  if (step_on_device) step = *step_on_device;
  NSAL_GRID_STRIDE(g, groups) {
    const kernels::DropoutGroup grp =
        kernels::dropout_row_group(seed, step, per_row, groups_per_row, g, row_keys);
    for (int j = 0; j < grp.count; ++j)
      dst[grp.first + j] =
          kernels::dropout_keep(grp.words.v[j], threshold) ? src[grp.first + j] * scale : 0.f;
  }
}

// After a counted forward: the step it used becomes the backward's, and the next one advances.
__global__ void advance_dropout_steps(uint64_t* steps) {
  steps[1] = steps[0];
  steps[0] += 1;
}

void dropout_run(const kernels::GpuExec& ex, int64_t n, double p, uint64_t seed, uint64_t step,
                 const uint64_t* step_on_device, int64_t rows, const int32_t* row_keys,
                 const float* src, float* dst, const char* op) {
  check_non_negative(n, "n", op);
  NSAL_CHECK(p >= 0.f && p <= 1.f, "{}: p must be in [0, 1], got {}", op, p);
  NSAL_CHECK(rows >= 1 && n % rows == 0, "{}: {} rows do not divide {} elements", op, rows, n);
  cudaStream_t s = stream_of(ex, op);
  if (n == 0) return;
  check_device_ptr(src, "input", op);
  check_device_ptr(dst, "output", op);
  check_device_ptr_or_null(row_keys, "row_keys", op);
  check_device_ptr_or_null(step_on_device, "step counter", op);
  const float scale = p < 1.0 ? static_cast<float>(1.0 / (1.0 - p)) : 0.0f;
  const int64_t per_row = n / rows, groups_per_row = (per_row + 3) / 4;
  const int64_t groups = rows * groups_per_row;
  dropout_kernel<<<grid_for(groups), kBlock, 0, s>>>(groups, per_row, groups_per_row,
                                                     kernels::dropout_threshold(p), scale, seed,
                                                     step, step_on_device, row_keys, src, dst);
  NSAL_CUDA_CHECK_LAUNCH();
}

}  // namespace
}  // namespace nsal::cuda

namespace nsal::kernels::gpu {

void dropout_forward(const GpuExec& ex, int64_t n, double p, uint64_t seed, uint64_t step,
                     const float* x, float* y, int64_t rows, const int32_t* row_keys) {
  cuda::dropout_run(ex, n, p, seed, step, nullptr, rows, row_keys, x, y, "dropout_forward");
}

void dropout_backward(const GpuExec& ex, int64_t n, double p, uint64_t seed, uint64_t step,
                      const float* dy, float* dx, int64_t rows, const int32_t* row_keys) {
  cuda::dropout_run(ex, n, p, seed, step, nullptr, rows, row_keys, dy, dx, "dropout_backward");
}

void dropout_forward_counted(const GpuExec& ex, int64_t n, double p, uint64_t seed, uint64_t* steps,
                             const float* x, float* y) {
  const char* op = "dropout_forward_counted";
  cuda::check_device_ptr(steps, "step counter", op);
  cuda::dropout_run(ex, n, p, seed, 0, steps, 1, nullptr, x, y, op);
  cuda::advance_dropout_steps<<<1, 1, 0, cuda::stream_of(ex, op)>>>(steps);
  NSAL_CUDA_CHECK_LAUNCH();
}

void dropout_backward_counted(const GpuExec& ex, int64_t n, double p, uint64_t seed,
                              const uint64_t* steps, const float* dy, float* dx) {
  const char* op = "dropout_backward_counted";
  cuda::check_device_ptr(steps, "step counter", op);
  cuda::dropout_run(ex, n, p, seed, 0, steps + 1, 1, nullptr, dy, dx, op);
}

}  // namespace nsal::kernels::gpu

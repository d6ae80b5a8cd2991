// The bf16 channels-last inference path's own kernels: layout change with rounding, the
// convolution epilogue of the unfused fallback, and the global average pool. Per-element rules
// shared with the CPU: kernels/channels_last.h.
#include "kernels/channels_last.h"
#include "kernels/cuda/gpu_handles.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/validate.h"
#include "kernels/cuda_ops.h"

namespace nsal::cuda {

// One thread per output element: writes coalesced, reads strided by S (used for network inputs
// with few channels and for weights, once per forward).
__global__ void to_channels_last_bf16_kernel(int64_t total, int64_t c, int64_t s,
                                             const float* __restrict__ x,
                                             uint16_t* __restrict__ y) {
  NSAL_GRID_STRIDE(t, total) {
    y[t] = kernels::to_bf16(x[kernels::channels_first_index(t, c, s)]);
  }
}

__global__ void bias_residual_act_bf16_kernel(int64_t total, int64_t c, uint16_t* y,
                                              const uint16_t* __restrict__ residual,
                                              const uint16_t* __restrict__ bias, bool relu) {
  NSAL_GRID_STRIDE(t, total) {
    const float r = residual ? kernels::from_bf16(residual[t]) : 0.f;
    const float b = bias ? kernels::from_bf16(bias[t % c]) : 0.f;
    y[t] = kernels::bias_residual_act_bf16(kernels::from_bf16(y[t]), r, b, relu);
  }
}

// One thread per (sample, channel): neighbouring threads read neighbouring channels.
__global__ void gap_channels_last_bf16_kernel(int64_t total, int64_t s, int64_t c,
                                              const uint16_t* __restrict__ x,
                                              float* __restrict__ y) {
  NSAL_GRID_STRIDE(t, total) {
    y[t] = kernels::mean_over_space_bf16(x, t / c, t % c, s, c);
  }
}

}  // namespace nsal::cuda

namespace nsal::kernels::gpu {

namespace {
void check_sizes(int64_t n, int64_t c, int64_t s, const char* op) {
  cuda::check_positive(n, "N", op);
  cuda::check_positive(c, "C", op);
  cuda::check_positive(s, "S", op);
}
}  // namespace

void to_channels_last_bf16(const GpuExec& ex, const float* x, int64_t n, int64_t c, int64_t s,
                           uint16_t* y) {
  const char* op = "to_channels_last_bf16";
  check_sizes(n, c, s, op);
  cudaStream_t st = cuda::stream_of(ex, op);
  cuda::check_device_ptr(x, "x", op);
  cuda::check_device_ptr(y, "y", op);
  const int64_t total = n * c * s;
  cuda::to_channels_last_bf16_kernel<<<cuda::grid_for(total), cuda::kBlock, 0, st>>>(total, c, s, x,
                                                                                     y);
  NSAL_CUDA_CHECK_LAUNCH();
}

void bias_residual_act_channels_last_bf16(const GpuExec& ex, uint16_t* y, const uint16_t* residual,
                                          const uint16_t* bias, bool relu, int64_t n, int64_t c,
                                          int64_t s) {
  const char* op = "bias_residual_act_channels_last_bf16";
  check_sizes(n, c, s, op);
  cudaStream_t st = cuda::stream_of(ex, op);
  cuda::check_device_ptr(y, "y", op);
  cuda::check_device_ptr_or_null(residual, "residual", op);
  cuda::check_device_ptr_or_null(bias, "bias", op);
  const int64_t total = n * c * s;
  cuda::bias_residual_act_bf16_kernel<<<cuda::grid_for(total), cuda::kBlock, 0, st>>>(
      total, c, y, residual, bias, relu);
  NSAL_CUDA_CHECK_LAUNCH();
}

void global_avg_pool_channels_last_bf16(const GpuExec& ex, const uint16_t* x, int64_t n, int64_t s,
                                        int64_t c, float* y) {
  const char* op = "global_avg_pool_channels_last_bf16";
  check_sizes(n, c, s, op);
  cudaStream_t st = cuda::stream_of(ex, op);
  cuda::check_device_ptr(x, "x", op);
  cuda::check_device_ptr(y, "y", op);
  const int64_t total = n * c;
  cuda::gap_channels_last_bf16_kernel<<<cuda::grid_for(total), cuda::kBlock, 0, st>>>(total, s, c,
                                                                                      x, y);
  NSAL_CUDA_CHECK_LAUNCH();
}

}  // namespace nsal::kernels::gpu

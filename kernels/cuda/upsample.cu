// Bilinear upsampling (align_corners=False) with the index math of kernels/bilinear.h. Backward
// gathers per input cell: each thread sums the outputs that use its cell, so there are no
// atomics and the sums have a fixed order.
#include "kernels/bilinear.h"
#include "kernels/cuda/gpu_handles.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/validate.h"
#include "kernels/cuda_ops.h"
#include "kernels/upsample.h"

namespace nsal::cuda {
namespace {

__global__ void bilinear_forward_kernel(int64_t total, int h, int w, int oh, int ow, float sy,
                                        float sx, const float* x, float* y) {
  NSAL_GRID_STRIDE(i, total) {
    const int64_t plane = i / (int64_t{oh} * ow);
    const int rem = static_cast<int>(i - plane * oh * ow);
    y[i] = kernels::bilinear_forward_at_steps(rem / ow, rem % ow, h, w, sy, sx,
                                              x + plane * int64_t{h} * w);
  }
}

__global__ void bilinear_backward_kernel(int64_t total, int h, int w, int oh, int ow, float sy,
                                         float sx, const float* dy, float* dx) {
  NSAL_GRID_STRIDE(i, total) {
    const int64_t plane = i / (int64_t{h} * w);
    const int rem = static_cast<int>(i - plane * h * w);
    dx[i] = kernels::bilinear_backward_gather_steps(rem / w, rem % w, h, w, oh, ow, sy, sx,
                                                    dy + plane * int64_t{oh} * ow);
  }
}

void check_upsample(int64_t n, int64_t c, int h, int w, int oh, int ow, const char* op) {
  check_positive(n, "N", op);
  check_positive(c, "C", op);
  NSAL_CHECK_AS(ShapeError, h > 0 && w > 0 && oh > 0 && ow > 0,
                "{}: sizes must be positive, got input {}x{} output {}x{}", op, h, w, oh, ow);
}

}  // namespace
}  // namespace nsal::cuda

namespace nsal::kernels::gpu {

void upsample_bilinear2d_forward(const GpuExec& ex, int64_t n, int64_t c, int h, int w, int oh,
                                 int ow, const float* x, float* y, double scale_h, double scale_w) {
  const char* op = "upsample_bilinear2d_forward";
  cuda::check_upsample(n, c, h, w, oh, ow, op);
  cudaStream_t s = cuda::stream_of(ex, op);
  cuda::check_device_ptr(x, "x", op);
  cuda::check_device_ptr(y, "y", op);
  const int64_t total = n * c * oh * ow;
  cuda::bilinear_forward_kernel<<<cuda::grid_for(total), cuda::kBlock, 0, s>>>(
      total, h, w, oh, ow, kernels::bilinear_step<float>(h, oh, scale_h),
      kernels::bilinear_step<float>(w, ow, scale_w), x, y);
  NSAL_CUDA_CHECK_LAUNCH();
}

void upsample_bilinear2d_backward(const GpuExec& ex, int64_t n, int64_t c, int h, int w, int oh,
                                  int ow, const float* dy, float* dx, double scale_h,
                                  double scale_w) {
  const char* op = "upsample_bilinear2d_backward";
  cuda::check_upsample(n, c, h, w, oh, ow, op);
  cudaStream_t s = cuda::stream_of(ex, op);
  cuda::check_device_ptr(dy, "dy", op);
  cuda::check_device_ptr(dx, "dx", op);
  const int64_t total = n * c * h * w;
  cuda::bilinear_backward_kernel<<<cuda::grid_for(total), cuda::kBlock, 0, s>>>(
      total, h, w, oh, ow, kernels::bilinear_step<float>(h, oh, scale_h),
      kernels::bilinear_step<float>(w, ow, scale_w), dy, dx);
  NSAL_CUDA_CHECK_LAUNCH();
}

}  // namespace nsal::kernels::gpu

// Concatenation and split along the channel dimension as strided 2D copies on the stream
// (cudaMemcpy2DAsync, device to device): N rows of channels[i] * S floats each.
#include "kernels/cuda/check.h"
#include "kernels/cuda/gpu_handles.h"
#include "kernels/cuda/validate.h"
#include "kernels/cuda_ops.h"

namespace nsal::kernels::gpu {

namespace {

int64_t total_channels(int k, const int64_t* channels, const char* op) {
  NSAL_CHECK_AS(ShapeError, k >= 1 && channels != nullptr, "{}: need at least one part, got {}", op,
                k);
  int64_t total = 0;
  for (int i = 0; i < k; ++i) {
    NSAL_CHECK_AS(ShapeError, channels[i] >= 0, "{}: part {} has {} channels", op, i, channels[i]);
    total += channels[i];
  }
  return total;
}

}  // namespace

void concat_channels(const GpuExec& ex, int64_t n, int64_t s, int k, const float* const* srcs,
                     const int64_t* channels, float* dst) {
  const char* op = "concat_channels";
  cuda::check_positive(n, "N", op);
  cuda::check_positive(s, "S", op);
  const int64_t total = total_channels(k, channels, op);
  cudaStream_t st = cuda::stream_of(ex, op);
  cuda::check_device_ptr(dst, "dst", op);
  NSAL_CHECK(srcs != nullptr, "{}: srcs is null", op);
  const size_t row = static_cast<size_t>(total * s) * sizeof(float);
  int64_t offset = 0;
  for (int i = 0; i < k; ++i) {
    if (channels[i] == 0) continue;
    cuda::check_device_ptr(srcs[i], "srcs[i]", op);
    const size_t width = static_cast<size_t>(channels[i] * s) * sizeof(float);
    NSAL_CUDA_CHECK(cudaMemcpy2DAsync(dst + offset * s, row, srcs[i], width, width,
                                      static_cast<size_t>(n), cudaMemcpyDeviceToDevice, st));
    offset += channels[i];
  }
}

void split_channels(const GpuExec& ex, int64_t n, int64_t s, int k, const float* src,
                    float* const* dsts, const int64_t* channels) {
  const char* op = "split_channels";
  cuda::check_positive(n, "N", op);
  cuda::check_positive(s, "S", op);
  const int64_t total = total_channels(k, channels, op);
  cudaStream_t st = cuda::stream_of(ex, op);
  cuda::check_device_ptr(src, "src", op);
  NSAL_CHECK(dsts != nullptr, "{}: dsts is null", op);
  const size_t row = static_cast<size_t>(total * s) * sizeof(float);
  int64_t offset = 0;
  for (int i = 0; i < k; ++i) {
    if (channels[i] == 0) continue;
    cuda::check_device_ptr(dsts[i], "dsts[i]", op);
    const size_t width = static_cast<size_t>(channels[i] * s) * sizeof(float);
    NSAL_CUDA_CHECK(cudaMemcpy2DAsync(dsts[i], width, src + offset * s, row, width,
                                      static_cast<size_t>(n), cudaMemcpyDeviceToDevice, st));
    offset += channels[i];
  }
}

}  // namespace nsal::kernels::gpu

// Own kernels the layer stack needs beside the library-backed ops: BatchNorm's eval-mode
// backward (cuDNN only differentiates the training forward), a scalar add (BatchNorm's batch
// counter stays on the device) and a stream-ordered device copy (identity layers).
#include <climits>

#include "kernels/batchnorm.h"
#include "kernels/cuda/gpu_handles.h"
#include "kernels/cuda/reduce.cuh"
#include "kernels/cuda/validate.h"
#include "kernels/cuda_ops.h"

namespace nsal::cuda {
namespace {

// One block per channel: dx = dy * gamma * invstd, and the channel sums of dy and
// dy * (x - mean) * invstd in double, in a fixed order (a strided pass per thread, then the
// shared-memory tree), exactly the terms of kernels::cpu::batchnorm_backward_eval.
__global__ void __launch_bounds__(kReduceBlock)
    bn_backward_eval_kernel(int64_t n, int64_t c, int64_t s, const float* x, const float* dy,
                            const float* gamma, const float* mean, const float* var, double eps,
                            float* dx, float* dgamma, float* dbeta) {
  const int64_t ch = blockIdx.x;
  const double invstd = kernels::bn_invstd(static_cast<double>(var[ch]), eps);
  const double m = static_cast<double>(mean[ch]);
  const double scale = (gamma ? static_cast<double>(gamma[ch]) : 1.0) * invstd;
  const int64_t count = n * s;
  double sum_dy = 0.0, sum_dy_xhat = 0.0;
  for (int64_t j = threadIdx.x; j < count; j += kReduceBlock) {
    const int64_t b = j / s;
    const int64_t idx = (b * c + ch) * s + (j - b * s);
    const double g = static_cast<double>(dy[idx]);
    sum_dy += g;
    sum_dy_xhat += g * (static_cast<double>(x[idx]) - m) * invstd;
    if (dx) dx[idx] = static_cast<float>(g * scale);
  }
  __shared__ double sh[2][kReduceBlock];
  sh[0][threadIdx.x] = sum_dy;
  sh[1][threadIdx.x] = sum_dy_xhat;
  __syncthreads();
  block_tree_sum<2>(sh);
  if (threadIdx.x == 0) {
    if (dgamma) dgamma[ch] += static_cast<float>(sh[1][0]);
    if (dbeta) dbeta[ch] += static_cast<float>(sh[0][0]);
  }
}

__global__ void add_scalar_kernel(float* p, int64_t n, float v) {
  NSAL_GRID_STRIDE(i, n) p[i] += v;
}

}  // namespace
}  // namespace nsal::cuda

namespace nsal::kernels::gpu {

void batchnorm_backward_eval(const GpuExec& ex, int64_t n, int64_t c, int64_t s, const float* x,
                             const float* dy, const float* gamma, const float* running_mean,
                             const float* running_var, double eps, float* dx, float* dgamma,
                             float* dbeta) {
  const char* op = "batchnorm_backward_eval";
  cuda::check_positive(n, "N", op);
  cuda::check_positive(c, "C", op);
  cuda::check_positive(s, "S (spatial size)", op);
  NSAL_CHECK_AS(ShapeError, c <= INT_MAX, "{}: C = {} is too large for one block per channel", op,
                c);
  NSAL_CHECK(eps > 0, "{}: eps must be positive, got {}", op, eps);
  cudaStream_t st = cuda::stream_of(ex, op);
  cuda::check_device_ptr(x, "x", op);
  cuda::check_device_ptr(dy, "dy", op);
  cuda::check_device_ptr_or_null(gamma, "gamma", op);
  cuda::check_device_ptr(running_mean, "running_mean", op);
  cuda::check_device_ptr(running_var, "running_var", op);
  cuda::check_device_ptr_or_null(dx, "dx", op);
  cuda::check_device_ptr_or_null(dgamma, "dgamma", op);
  cuda::check_device_ptr_or_null(dbeta, "dbeta", op);
  cuda::bn_backward_eval_kernel<<<static_cast<unsigned>(c), cuda::kReduceBlock, 0, st>>>(
      n, c, s, x, dy, gamma, running_mean, running_var, eps, dx, dgamma, dbeta);
  NSAL_CUDA_CHECK_LAUNCH();
}

void add_scalar(const GpuExec& ex, float* p, int64_t n, float value) {
  const char* op = "add_scalar";
  cuda::check_non_negative(n, "n", op);
  cudaStream_t s = cuda::stream_of(ex, op);
  if (n == 0) return;
  cuda::check_device_ptr(p, "p", op);
  cuda::add_scalar_kernel<<<cuda::grid_for(n), cuda::kBlock, 0, s>>>(p, n, value);
  NSAL_CUDA_CHECK_LAUNCH();
}

void copy(const GpuExec& ex, void* dst, const void* src, size_t bytes) {
  const char* op = "copy";
  cudaStream_t s = cuda::stream_of(ex, op);
  if (bytes == 0 || dst == src) return;
  cuda::check_device_ptr(src, "src", op);
  cuda::check_device_ptr(dst, "dst", op);
  NSAL_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, s));
}

}  // namespace nsal::kernels::gpu

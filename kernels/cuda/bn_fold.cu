// BatchNorm folding on the device with the per-channel math of kernels/bn_fold.h.
#include "kernels/bn_fold.h"
#include "kernels/cuda/gpu_handles.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/validate.h"
#include "kernels/cuda_ops.h"

namespace nsal::cuda {
namespace {

// One thread per weight; the first weight of each channel also writes the folded bias. Every
// element uses bn_fold_channel, so the result equals the CPU's bn_fold_apply bit for bit.
__global__ void bn_fold_kernel(int64_t c_out, int64_t per_channel, const float* w,
                               const float* conv_bias, const float* gamma, const float* beta,
                               const float* mean, const float* var, double eps, float* w_out,
                               float* b_out) {
  NSAL_GRID_STRIDE(i, c_out * per_channel) {
    const int64_t o = i / per_channel;
    kernels::BnFold f =
        kernels::bn_fold_channel(gamma[o], beta[o], mean[o], var[o], eps,
                                 conv_bias ? static_cast<double>(conv_bias[o]) : 0.0);
    w_out[i] = static_cast<float>(w[i] * f.scale);
    if (i - o * per_channel == 0) b_out[o] = static_cast<float>(f.bias);
  }
}

}  // namespace
}  // namespace nsal::cuda

namespace nsal::kernels::gpu {

void bn_fold(const GpuExec& ex, int64_t c_out, int64_t per_channel, const float* w,
             const float* conv_bias, const float* gamma, const float* beta, const float* mean,
             const float* var, double eps, float* w_out, float* b_out) {
  const char* op = "bn_fold";
  cuda::check_positive(c_out, "C_out", op);
  cuda::check_positive(per_channel, "weights per channel", op);
  NSAL_CHECK(eps > 0, "{}: eps must be positive, got {}", op, eps);
  cudaStream_t s = cuda::stream_of(ex, op);
  cuda::check_device_ptr(w, "w", op);
  cuda::check_device_ptr_or_null(conv_bias, "conv_bias", op);
  cuda::check_device_ptr(gamma, "gamma", op);
  cuda::check_device_ptr(beta, "beta", op);
  cuda::check_device_ptr(mean, "mean", op);
  cuda::check_device_ptr(var, "var", op);
  cuda::check_device_ptr(w_out, "w_out", op);
  cuda::check_device_ptr(b_out, "b_out", op);
  const int64_t total = c_out * per_channel;
  cuda::bn_fold_kernel<<<cuda::grid_for(total), cuda::kBlock, 0, s>>>(
      c_out, per_channel, w, conv_bias, gamma, beta, mean, var, eps, w_out, b_out);
  NSAL_CUDA_CHECK_LAUNCH();
}

}  // namespace nsal::kernels::gpu

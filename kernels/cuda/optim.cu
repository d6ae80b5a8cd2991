// CUDA side of the optimizers (kernels/cuda_ops.h): the same per-element rules as the CPU loop
// (kernels/optim.h), on the stream of the exec.
#include "kernels/cuda/gpu_handles.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/validate.h"
#include "kernels/cuda_ops.h"
#include "kernels/optim.h"

namespace nsal::cuda {
namespace {

__global__ void sgd_kernel(float* w, const float* g, float* buf, int64_t n, kernels::SgdParams p,
                           const int64_t* step, const float* lr) {
  p.lr = *lr;
  p.first_step = *step == 0;
  NSAL_GRID_STRIDE(i, n) {
    float b = buf ? buf[i] : 0.0f;
    float wi = w[i];
    kernels::sgd_update(wi, g[i], b, p);
    w[i] = wi;
    if (buf) buf[i] = b;
  }
}

__global__ void adam_kernel(float* w, const float* g, float* m, float* v, int64_t n,
                            kernels::AdamParams p, const int64_t* step, const float* lr) {
  p.lr = *lr;
  p.step = *step + 1;
  float c1 = 0.0f, c2 = 0.0f;
  kernels::adam_bias_corrections(p.beta1, p.beta2, p.step, c1, c2);
  NSAL_GRID_STRIDE(i, n) {
    float wi = w[i], mi = m[i], vi = v[i];
    kernels::adam_update(wi, g[i], mi, vi, p, c1, c2);
    w[i] = wi;
    m[i] = mi;
    v[i] = vi;
  }
}

// After a step's update kernel, on the same stream.
__global__ void advance_step_kernel(int64_t* step) {
  *step += 1;
}

// The factor in double as the CPU computes it, rounded to float once.
__global__ void clip_scale_kernel(float* x, int64_t n, const double* sumsq, double max_norm) {
  const double coef = max_norm / (sqrt(*sumsq) + 1e-6);
  if (!(coef < 1.0)) return;  // as the CPU: a NaN norm scales nothing
  const float c = static_cast<float>(coef);
  NSAL_GRID_STRIDE(i, n) x[i] *= c;
}

}  // namespace
}  // namespace nsal::cuda

namespace nsal::kernels::gpu {

using cuda::check_device_ptr;
using cuda::grid_for;
using cuda::kBlock;

namespace {
void check_state(const OptimDeviceState& state, const char* op) {
  check_device_ptr(state.step, "step counter", op);
  check_device_ptr(state.lr, "learning rate", op);
}
}  // namespace

void sgd_step(const GpuExec& ex, float* w, const float* g, float* buf, int64_t n,
              const SgdParams& p, const OptimDeviceState& state) {
  const char* op = "sgd_step";
  cuda::check_non_negative(n, "n", op);
  cudaStream_t s = cuda::stream_of(ex, op);
  check_state(state, op);
  if (n > 0) {
    check_device_ptr(w, "w", op);
    check_device_ptr(g, "g", op);
    if (buf) check_device_ptr(buf, "momentum buffer", op);
    cuda::sgd_kernel<<<grid_for(n), kBlock, 0, s>>>(w, g, buf, n, p, state.step, state.lr);
    NSAL_CUDA_CHECK_LAUNCH();
  }
  cuda::advance_step_kernel<<<1, 1, 0, s>>>(state.step);
  NSAL_CUDA_CHECK_LAUNCH();
}

void adam_step(const GpuExec& ex, float* w, const float* g, float* m, float* v, int64_t n,
               const AdamParams& p, const OptimDeviceState& state) {
  const char* op = "adam_step";
  cuda::check_non_negative(n, "n", op);
  cudaStream_t s = cuda::stream_of(ex, op);
  check_state(state, op);
  if (n > 0) {
    check_device_ptr(w, "w", op);
    check_device_ptr(g, "g", op);
    check_device_ptr(m, "exp_avg", op);
    check_device_ptr(v, "exp_avg_sq", op);
    cuda::adam_kernel<<<grid_for(n), kBlock, 0, s>>>(w, g, m, v, n, p, state.step, state.lr);
    NSAL_CUDA_CHECK_LAUNCH();
  }
  cuda::advance_step_kernel<<<1, 1, 0, s>>>(state.step);
  NSAL_CUDA_CHECK_LAUNCH();
}

void clip_scale(const GpuExec& ex, float* x, int64_t n, const double* sumsq, double max_norm) {
  const char* op = "clip_scale";
  cuda::check_non_negative(n, "n", op);
  cudaStream_t s = cuda::stream_of(ex, op);
  if (n == 0) return;
  check_device_ptr(x, "x", op);
  check_device_ptr(sumsq, "sumsq", op);
  cuda::clip_scale_kernel<<<grid_for(n), kBlock, 0, s>>>(x, n, sumsq, max_norm);
  NSAL_CUDA_CHECK_LAUNCH();
}

}  // namespace nsal::kernels::gpu

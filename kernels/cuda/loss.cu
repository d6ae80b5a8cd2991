// Regression losses: mean squared error and L1 (PyTorch's mse_loss / l1_loss).
#include "kernels/cuda/gpu_handles.h"
#include "kernels/cuda/reduce.cuh"
#include "kernels/cuda/validate.h"
#include "kernels/cuda_ops.h"

namespace nsal::cuda {
namespace {

struct SquaredErrorTerm {
  const float* x;
  const float* t;
  __device__ void operator()(int64_t i, double* acc) const {
    const double d = static_cast<double>(x[i]) - static_cast<double>(t[i]);  // as the CPU
    acc[0] += d * d;
  }
};
struct AbsErrorTerm {
  const float* x;
  const float* t;
  __device__ void operator()(int64_t i, double* acc) const {
    acc[0] += fabs(static_cast<double>(x[i]) - static_cast<double>(t[i]));
  }
};
struct LossFinish {
  float* loss;
  double divisor;  // n for mean, 1 for sum
  __device__ void operator()(const double* total) const {
    *loss = static_cast<float>(total[0] / divisor);
  }
};

// dx = norm (x - t) dloss, norm = 2 / n (mean) or 2 (sum)
__global__ void mse_backward_kernel(int64_t n, const float* x, const float* t, float norm,
                                    float dloss, float* dx) {
  NSAL_GRID_STRIDE(i, n) dx[i] = norm * (x[i] - t[i]) * dloss;
}
// dx = sign(x - t) norm dloss, sign(0) = sign(NaN) = 0 (PyTorch's l1_loss backward, and the
// CPU's), norm = 1 / n (mean) or 1 (sum)
__global__ void l1_backward_kernel(int64_t n, const float* x, const float* t, float norm,
                                   float dloss, float* dx) {
  NSAL_GRID_STRIDE(i, n) {
    const float d = x[i] - t[i];
    const float sign = d > 0.f ? 1.f : (d < 0.f ? -1.f : 0.f);
    dx[i] = sign * norm * dloss;
  }
}

void check_loss_args(const kernels::GpuExec& ex, int64_t n, const float* x, const float* t,
                     const void* out, const char* op) {
  check_positive(n, "n", op);
  handles_of(ex, op);
  check_device_ptr(x, "x", op);
  check_device_ptr(t, "target", op);
  check_device_ptr(out, "output", op);
}

}  // namespace
}  // namespace nsal::cuda

namespace nsal::kernels::gpu {

void mse_forward(const GpuExec& ex, int64_t n, const float* x, const float* target,
                 Reduction reduction, float* loss) {
  const char* op = "mse_forward";
  cuda::check_loss_args(ex, n, x, target, loss, op);
  auto* scratch = static_cast<double*>(cuda::workspace_of(ex, cuda::reduce_scratch_bytes(1), op));
  const double div = reduction == Reduction::mean ? static_cast<double>(n) : 1.0;
  cuda::reduce_launch<1>(ex.handles->stream(), n, cuda::SquaredErrorTerm{x, target},
                         cuda::LossFinish{loss, div}, scratch);
}

void mse_backward(const GpuExec& ex, int64_t n, const float* x, const float* target,
                  Reduction reduction, float dloss, float* dx) {
  const char* op = "mse_backward";
  cuda::check_loss_args(ex, n, x, target, dx, op);
  const float norm = reduction == Reduction::mean ? 2.f / static_cast<float>(n) : 2.f;
  cuda::mse_backward_kernel<<<cuda::grid_for(n), cuda::kBlock, 0, ex.handles->stream()>>>(
      n, x, target, norm, dloss, dx);
  NSAL_CUDA_CHECK_LAUNCH();
}

void l1_forward(const GpuExec& ex, int64_t n, const float* x, const float* target,
                Reduction reduction, float* loss) {
  const char* op = "l1_forward";
  cuda::check_loss_args(ex, n, x, target, loss, op);
  auto* scratch = static_cast<double*>(cuda::workspace_of(ex, cuda::reduce_scratch_bytes(1), op));
  const double div = reduction == Reduction::mean ? static_cast<double>(n) : 1.0;
  cuda::reduce_launch<1>(ex.handles->stream(), n, cuda::AbsErrorTerm{x, target},
                         cuda::LossFinish{loss, div}, scratch);
}

void l1_backward(const GpuExec& ex, int64_t n, const float* x, const float* target,
                 Reduction reduction, float dloss, float* dx) {
  const char* op = "l1_backward";
  cuda::check_loss_args(ex, n, x, target, dx, op);
  const float norm = reduction == Reduction::mean ? 1.f / static_cast<float>(n) : 1.f;
  cuda::l1_backward_kernel<<<cuda::grid_for(n), cuda::kBlock, 0, ex.handles->stream()>>>(
      n, x, target, norm, dloss, dx);
  NSAL_CUDA_CHECK_LAUNCH();
}

}  // namespace nsal::kernels::gpu

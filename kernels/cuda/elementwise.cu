// Elementwise ops: fills, scaling, axpy, residual add, ReLU / ReLU6 and bias add.
#include "kernels/activation.h"
#include "kernels/cuda/gpu_handles.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/validate.h"
#include "kernels/cuda_ops.h"

namespace nsal::cuda {
namespace {

__global__ void fill_kernel(float* p, int64_t n, float v) {
  NSAL_GRID_STRIDE(i, n) p[i] = v;
}
__global__ void scale_kernel(float* p, int64_t n, float a) {
  NSAL_GRID_STRIDE(i, n) p[i] *= a;
}
__global__ void axpy_kernel(int64_t n, float a, const float* x, float* y) {
  NSAL_GRID_STRIDE(i, n) y[i] += a * x[i];
}
__global__ void add_kernel(int64_t n, const float* a, const float* b, float* y) {
  NSAL_GRID_STRIDE(i, n) y[i] = a[i] + b[i];
}
// The per-element rules are the CPU's (kernels/activation.h); the backwards read the output y.
__global__ void relu_kernel(int64_t n, const float* x, float* y) {
  NSAL_GRID_STRIDE(i, n) y[i] = kernels::relu_forward(x[i]);
}
__global__ void relu_backward_kernel(int64_t n, const float* y, const float* dy, float* dx) {
  NSAL_GRID_STRIDE(i, n) dx[i] = kernels::relu_backward(y[i], dy[i]);
}
__global__ void relu6_kernel(int64_t n, const float* x, float* y) {
  NSAL_GRID_STRIDE(i, n) y[i] = kernels::relu6_forward(x[i]);
}
__global__ void relu6_backward_kernel(int64_t n, const float* y, const float* dy, float* dx) {
  NSAL_GRID_STRIDE(i, n) dx[i] = kernels::relu6_backward(y[i], dy[i]);
}
// y (N, C, S) += bias[c]
__global__ void bias_add_kernel(int64_t total, int64_t c, int64_t s, const float* b, float* y) {
  NSAL_GRID_STRIDE(i, total) y[i] += b[(i / s) % c];
}

}  // namespace
}  // namespace nsal::cuda

namespace nsal::kernels::gpu {

using cuda::check_device_ptr;
using cuda::grid_for;
using cuda::kBlock;

void fill(const GpuExec& ex, float* p, int64_t n, float value) {
  const char* op = "fill";
  cuda::check_non_negative(n, "n", op);
  cudaStream_t s = cuda::stream_of(ex, op);
  if (n == 0) return;
  check_device_ptr(p, "p", op);
  cuda::fill_kernel<<<grid_for(n), kBlock, 0, s>>>(p, n, value);
  NSAL_CUDA_CHECK_LAUNCH();
}

void scale(const GpuExec& ex, float* p, int64_t n, float a) {
  const char* op = "scale";
  cuda::check_non_negative(n, "n", op);
  cudaStream_t s = cuda::stream_of(ex, op);
  if (n == 0) return;
  check_device_ptr(p, "p", op);
  cuda::scale_kernel<<<grid_for(n), kBlock, 0, s>>>(p, n, a);
  NSAL_CUDA_CHECK_LAUNCH();
}

void axpy(const GpuExec& ex, int64_t n, float a, const float* x, float* y) {
  const char* op = "axpy";
  cuda::check_non_negative(n, "n", op);
  cudaStream_t s = cuda::stream_of(ex, op);
  if (n == 0) return;
  check_device_ptr(x, "x", op);
  check_device_ptr(y, "y", op);
  cuda::axpy_kernel<<<grid_for(n), kBlock, 0, s>>>(n, a, x, y);
  NSAL_CUDA_CHECK_LAUNCH();
}

void add(const GpuExec& ex, int64_t n, const float* a, const float* b, float* y) {
  const char* op = "add";
  cuda::check_non_negative(n, "n", op);
  cudaStream_t s = cuda::stream_of(ex, op);
  if (n == 0) return;
  check_device_ptr(a, "a", op);
  check_device_ptr(b, "b", op);
  check_device_ptr(y, "y", op);
  cuda::add_kernel<<<grid_for(n), kBlock, 0, s>>>(n, a, b, y);
  NSAL_CUDA_CHECK_LAUNCH();
}

#define NSAL_UNARY_OP(name, kernel, a_name, b_name)                   \
  void name(const GpuExec& ex, int64_t n, const float* a, float* b) { \
    const char* op = #name;                                           \
    cuda::check_non_negative(n, "n", op);                             \
    cudaStream_t s = cuda::stream_of(ex, op);                         \
    if (n == 0) return;                                               \
    check_device_ptr(a, a_name, op);                                  \
    check_device_ptr(b, b_name, op);                                  \
    cuda::kernel<<<grid_for(n), kBlock, 0, s>>>(n, a, b);             \
    NSAL_CUDA_CHECK_LAUNCH();                                         \
  }
NSAL_UNARY_OP(relu_forward, relu_kernel, "x", "y")
NSAL_UNARY_OP(relu6_forward, relu6_kernel, "x", "y")
#undef NSAL_UNARY_OP

#define NSAL_ACT_BACKWARD(name, kernel)                                                 \
  void name(const GpuExec& ex, int64_t n, const float* y, const float* dy, float* dx) { \
    const char* op = #name;                                                             \
    cuda::check_non_negative(n, "n", op);                                               \
    cudaStream_t s = cuda::stream_of(ex, op);                                           \
    if (n == 0) return;                                                                 \
    check_device_ptr(y, "y", op);                                                       \
    check_device_ptr(dy, "dy", op);                                                     \
    check_device_ptr(dx, "dx", op);                                                     \
    cuda::kernel<<<grid_for(n), kBlock, 0, s>>>(n, y, dy, dx);                          \
    NSAL_CUDA_CHECK_LAUNCH();                                                           \
  }
NSAL_ACT_BACKWARD(relu_backward, relu_backward_kernel)
NSAL_ACT_BACKWARD(relu6_backward, relu6_backward_kernel)
#undef NSAL_ACT_BACKWARD

void bias_add(const GpuExec& ex, int64_t n, int64_t c, int64_t s, const float* bias, float* y) {
  const char* op = "bias_add";
  cuda::check_positive(n, "N", op);
  cuda::check_positive(c, "C", op);
  cuda::check_positive(s, "S", op);
  cudaStream_t st = cuda::stream_of(ex, op);
  check_device_ptr(bias, "bias", op);
  check_device_ptr(y, "y", op);
  const int64_t total = n * c * s;
  cuda::bias_add_kernel<<<grid_for(total), kBlock, 0, st>>>(total, c, s, bias, y);
  NSAL_CUDA_CHECK_LAUNCH();
}

}  // namespace nsal::kernels::gpu

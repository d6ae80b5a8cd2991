// Deterministic reductions: sum, sum of squares, per-channel bias gradients, global average pool.
#include <climits>

#include "kernels/cuda/gpu_handles.h"
#include "kernels/cuda/reduce.cuh"
#include "kernels/cuda/validate.h"
#include "kernels/cuda_ops.h"

namespace nsal::cuda {
namespace {

struct SumTerm {
  const float* x;
  __device__ void operator()(int64_t i, double* acc) const { acc[0] += x[i]; }
};
struct SquareTerm {
  const float* x;
  __device__ void operator()(int64_t i, double* acc) const {
    double v = x[i];
    acc[0] += v * v;
  }
};
struct StoreTotal {
  double* out;
  __device__ void operator()(const double* t) const { *out = t[0]; }
};

// One block per channel: db[ch] += sum over (n, s) of dy[n, ch, s], in a fixed order.
__global__ void __launch_bounds__(kReduceBlock)
    bias_grad_blocks(int64_t n, int64_t c, int64_t s, const float* dy, float* db) {
  const int64_t ch = blockIdx.x;
  const int64_t m = n * s;
  double acc = 0.0;
  for (int64_t j = threadIdx.x; j < m; j += kReduceBlock) {
    int64_t b = j / s;
    acc += dy[(b * c + ch) * s + (j - b * s)];
  }
  __shared__ double sh[1][kReduceBlock];
  sh[0][threadIdx.x] = acc;
  __syncthreads();
  block_tree_sum<1>(sh);
  if (threadIdx.x == 0) db[ch] += static_cast<float>(sh[0][0]);
}

// S == 1 ((N, C) gradients of linear layers): one thread per channel walks the rows, so
// neighbouring threads read neighbouring addresses.
__global__ void bias_grad_rows(int64_t n, int64_t c, const float* dy, float* db) {
  NSAL_GRID_STRIDE(ch, c) {
    double acc = 0.0;
    for (int64_t b = 0; b < n; ++b)
      acc += dy[b * c + ch];
    db[ch] += static_cast<float>(acc);
  }
}

// One warp per (n, c) row of S elements (warp-uniform loop, so shuffles see full warps).
__global__ void gap_forward_kernel(int64_t rows, int64_t s, const float* x, float* y) {
  const int64_t warps = static_cast<int64_t>(gridDim.x) * blockDim.x / 32;
  const int lane = threadIdx.x % 32;
  for (int64_t row = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32; row < rows;
       row += warps) {
    const float* p = x + row * s;
    float acc = 0.f;
    for (int64_t j = lane; j < s; j += 32)
      acc += p[j];
    acc = warp_sum(acc);
    if (lane == 0) y[row] = acc / static_cast<float>(s);
  }
}

__global__ void gap_backward_kernel(int64_t total, int64_t s, const float* dy, float* dx) {
  NSAL_GRID_STRIDE(i, total) dx[i] = dy[i / s] / static_cast<float>(s);
}

}  // namespace
}  // namespace nsal::cuda

namespace nsal::kernels::gpu {

void sum(const GpuExec& ex, const float* x, int64_t n, double* out) {
  const char* op = "sum";
  cuda::check_non_negative(n, "n", op);
  cudaStream_t s = cuda::stream_of(ex, op);
  if (n > 0) cuda::check_device_ptr(x, "x", op);
  cuda::check_device_ptr(out, "out", op);
  auto* scratch = static_cast<double*>(cuda::workspace_of(ex, cuda::reduce_scratch_bytes(1), op));
  cuda::reduce_launch<1>(s, n, cuda::SumTerm{x}, cuda::StoreTotal{out}, scratch);
}

void sum_squares(const GpuExec& ex, const float* x, int64_t n, double* out) {
  const char* op = "sum_squares";
  cuda::check_non_negative(n, "n", op);
  cudaStream_t s = cuda::stream_of(ex, op);
  if (n > 0) cuda::check_device_ptr(x, "x", op);
  cuda::check_device_ptr(out, "out", op);
  auto* scratch = static_cast<double*>(cuda::workspace_of(ex, cuda::reduce_scratch_bytes(1), op));
  cuda::reduce_launch<1>(s, n, cuda::SquareTerm{x}, cuda::StoreTotal{out}, scratch);
}

void bias_grad(const GpuExec& ex, int64_t n, int64_t c, int64_t s, const float* dy, float* db) {
  const char* op = "bias_grad";
  cuda::check_positive(n, "N", op);
  cuda::check_positive(c, "C", op);
  cuda::check_positive(s, "S", op);
  cudaStream_t st = cuda::stream_of(ex, op);
  cuda::check_device_ptr(dy, "dy", op);
  cuda::check_device_ptr(db, "db", op);
  NSAL_CHECK_AS(ShapeError, c <= INT_MAX, "{}: C = {} is too large for one block per channel", op,
                c);
  if (s == 1)
    cuda::bias_grad_rows<<<cuda::grid_for(c), cuda::kBlock, 0, st>>>(n, c, dy, db);
  else
    cuda::bias_grad_blocks<<<static_cast<unsigned>(c), cuda::kReduceBlock, 0, st>>>(n, c, s, dy,
                                                                                    db);
  NSAL_CUDA_CHECK_LAUNCH();
}

void global_avg_pool_forward(const GpuExec& ex, int64_t n, int64_t c, int64_t s, const float* x,
                             float* y) {
  const char* op = "global_avg_pool_forward";
  cuda::check_positive(n, "N", op);
  cuda::check_positive(c, "C", op);
  cuda::check_positive(s, "S", op);
  cudaStream_t st = cuda::stream_of(ex, op);
  cuda::check_device_ptr(x, "x", op);
  cuda::check_device_ptr(y, "y", op);
  const int64_t rows = n * c;
  cuda::gap_forward_kernel<<<cuda::grid_for(rows * 32), cuda::kBlock, 0, st>>>(rows, s, x, y);
  NSAL_CUDA_CHECK_LAUNCH();
}

void global_avg_pool_backward(const GpuExec& ex, int64_t n, int64_t c, int64_t s, const float* dy,
                              float* dx) {
  const char* op = "global_avg_pool_backward";
  cuda::check_positive(n, "N", op);
  cuda::check_positive(c, "C", op);
  cuda::check_positive(s, "S", op);
  cudaStream_t st = cuda::stream_of(ex, op);
  cuda::check_device_ptr(dy, "dy", op);
  cuda::check_device_ptr(dx, "dx", op);
  const int64_t total = n * c * s;
  cuda::gap_backward_kernel<<<cuda::grid_for(total), cuda::kBlock, 0, st>>>(total, s, dy, dx);
  NSAL_CUDA_CHECK_LAUNCH();
}

}  // namespace nsal::kernels::gpu

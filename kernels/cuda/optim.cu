// CUDA side of kernels/optim.h: the same per-element rules as the CPU loop.
#include <cmath>
#include <vector>

#include "kernels/cuda/check.h"
#include "kernels/optim.h"

namespace nsal::kernels::cuda {

namespace {
constexpr int kThreads = 256;
int blocks_for(int64_t n) {
  return static_cast<int>(std::min<int64_t>((n + kThreads - 1) / kThreads, 65535));
}

__global__ void sgd_kernel(float* w, const float* g, float* buf, int64_t n, SgdParams p) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    float b = buf ? buf[i] : 0.0f;
    float wi = w[i];
    sgd_update(wi, g[i], b, p);
    w[i] = wi;
    if (buf) buf[i] = b;
  }
}

__global__ void adam_kernel(float* w, const float* g, float* m, float* v, int64_t n, AdamParams p,
                            float c1, float c2) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    float wi = w[i], mi = m[i], vi = v[i];
    adam_update(wi, g[i], mi, vi, p, c1, c2);
    w[i] = wi;
    m[i] = mi;
    v[i] = vi;
  }
}

// One partial sum per block over a fixed grid-stride pattern; the partials are added on the host
// in block order, so the result does not depend on scheduling.
constexpr int kReduceBlocks = 256;
__global__ void sum_squares_kernel(const float* x, int64_t n, double* partial) {
  __shared__ double s[kThreads];
  double acc = 0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    acc += static_cast<double>(x[i]) * x[i];
  s[threadIdx.x] = acc;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) s[threadIdx.x] += s[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) partial[blockIdx.x] = s[0];
}

__global__ void scale_kernel(float* x, int64_t n, float sc) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    x[i] *= sc;
}
}  // namespace

void sgd_step(float* w, const float* g, float* buf, int64_t n, const SgdParams& p) {
  if (n == 0) return;
  sgd_kernel<<<blocks_for(n), kThreads>>>(w, g, buf, n, p);
  NSAL_CUDA_CHECK_LAUNCH();
}

void adam_step(float* w, const float* g, float* m, float* v, int64_t n, const AdamParams& p) {
  if (n == 0) return;
  float c1 = 1.0f - std::pow(p.beta1, static_cast<float>(p.step));
  float c2 = std::sqrt(1.0f - std::pow(p.beta2, static_cast<float>(p.step)));
  adam_kernel<<<blocks_for(n), kThreads>>>(w, g, m, v, n, p, c1, c2);
  NSAL_CUDA_CHECK_LAUNCH();
}

double sum_squares(const float* x, int64_t n) {
  if (n == 0) return 0.0;
  double* partial = nullptr;
  NSAL_CUDA_CHECK(cudaMalloc(&partial, kReduceBlocks * sizeof(double)));
  sum_squares_kernel<<<kReduceBlocks, kThreads>>>(x, n, partial);
  cudaError_t launch = cudaGetLastError();
  std::vector<double> host(kReduceBlocks);
  cudaError_t copy =
      cudaMemcpy(host.data(), partial, kReduceBlocks * sizeof(double), cudaMemcpyDeviceToHost);
  cudaFree(partial);
  NSAL_CUDA_CHECK(launch);
  NSAL_CUDA_CHECK(copy);
  double total = 0;
  for (double s : host)
    total += s;
  return total;
}

void scale_inplace(float* x, int64_t n, float s) {
  if (n == 0) return;
  scale_kernel<<<blocks_for(n), kThreads>>>(x, n, s);
  NSAL_CUDA_CHECK_LAUNCH();
}

}  // namespace nsal::kernels::cuda

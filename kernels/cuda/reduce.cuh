// Deterministic two-stage reductions in double (included by .cu files only).
//
// Stage 1 runs reduce_blocks(n) blocks, a number fixed by n alone; block b sums the elements of
// its grid-stride sequence per thread and then in a fixed shared-memory tree. Stage 2, one
// block, sums the partials in a fixed order and hands the totals to a finishing functor. The
// result therefore depends only on the input, not on the GPU, the timing or atomics.
#pragma once

#include "kernels/cuda/launch.cuh"

namespace nsal::cuda {

constexpr int kReduceBlock = 256;
constexpr int kReduceMaxBlocks = 1024;

inline int reduce_blocks(int64_t n) {
  return static_cast<int>(
      std::clamp<int64_t>((n + 4 * kReduceBlock - 1) / (4 * kReduceBlock), 1, kReduceMaxBlocks));
}
// Scratch that reduce_launch<C> needs (from the exec's workspace).
constexpr size_t reduce_scratch_bytes(int components) {
  return static_cast<size_t>(components) * kReduceMaxBlocks * sizeof(double);
}

// Sums sh[c][0..kReduceBlock) into sh[c][0] (all threads of the block must call it).
template <int C>
__device__ void block_tree_sum(double (*sh)[kReduceBlock]) {
  for (int s = kReduceBlock / 2; s > 0; s >>= 1) {
    if (static_cast<int>(threadIdx.x) < s)
      for (int c = 0; c < C; ++c)
        sh[c][threadIdx.x] += sh[c][threadIdx.x + s];
    __syncthreads();
  }
}

// F: __device__ void operator()(int64_t i, double* acc) const  -- adds element i's terms.
template <int C, typename F>
__global__ void __launch_bounds__(kReduceBlock) reduce_partials(int64_t n, F f, double* partials) {
  double acc[C];
  for (int c = 0; c < C; ++c)
    acc[c] = 0.0;
  NSAL_GRID_STRIDE(i, n) f(i, acc);
  __shared__ double sh[C][kReduceBlock];
  for (int c = 0; c < C; ++c)
    sh[c][threadIdx.x] = acc[c];
  __syncthreads();
  block_tree_sum<C>(sh);
  if (threadIdx.x == 0)
    for (int c = 0; c < C; ++c)
      partials[c * gridDim.x + blockIdx.x] = sh[c][0];
}

// Fin: __device__ void operator()(const double* totals) const  -- run by one thread.
template <int C, typename Fin>
__global__ void __launch_bounds__(kReduceBlock)
    reduce_finish(int blocks, const double* partials, Fin fin) {
  __shared__ double sh[C][kReduceBlock];
  for (int c = 0; c < C; ++c) {
    double a = 0.0;
    for (int b = threadIdx.x; b < blocks; b += kReduceBlock)
      a += partials[c * blocks + b];
    sh[c][threadIdx.x] = a;
  }
  __syncthreads();
  block_tree_sum<C>(sh);
  if (threadIdx.x == 0) {
    double tot[C];
    for (int c = 0; c < C; ++c)
      tot[c] = sh[c][0];
    fin(tot);
  }
}

// scratch: reduce_scratch_bytes(C) of device memory.
template <int C, typename F, typename Fin>
void reduce_launch(cudaStream_t s, int64_t n, F f, Fin fin, double* scratch) {
  const int blocks = reduce_blocks(n);
  reduce_partials<C><<<blocks, kReduceBlock, 0, s>>>(n, f, scratch);
  NSAL_CUDA_CHECK_LAUNCH();
  reduce_finish<C><<<1, kReduceBlock, 0, s>>>(blocks, scratch, fin);
  NSAL_CUDA_CHECK_LAUNCH();
}

}  // namespace nsal::cuda

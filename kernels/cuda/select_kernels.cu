// CUDA selection (kernels/select.h): top-N with Thrust (stable descending sort of the non-NaN
// scores, so ties keep index order), greedy k-center with one warp per row and a device-side
// argmax, so the loop never waits on the host.
#include <thrust/copy.h>
#include <thrust/device_vector.h>
#include <thrust/execution_policy.h>
#include <thrust/functional.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/zip_iterator.h>
#include <thrust/sort.h>

#include <cmath>
#include <limits>

#include "kernels/cuda/check.h"
#include "kernels/kcenter_hd.h"
#include "kernels/select.h"
#include "kernels/select_backend.h"

namespace nsal::kernels {

namespace {

struct NotNan {
  __host__ __device__ bool operator()(const thrust::tuple<float, int64_t>& t) const {
    return !isnan(thrust::get<0>(t));
  }
};

constexpr int kRowsPerBlock = 8;  // one warp per row
constexpr int kThreads = kRowsPerBlock * 32;
constexpr int kReduceThreads = 1024;

struct Candidate {
  double v;
  int64_t i;  // -1: none
};

__device__ Candidate better_of(Candidate a, Candidate b) {
  if (a.i < 0) return b;
  if (b.i < 0) return a;
  return kc_better(b.v, b.i, a.v, a.i) ? b : a;
}

// min_d[row] = min(min_d[row], ||x_row - c||^2) for rows in play (min_d >= 0); c is the row
// *centre of x, or the origin when centre is null. Writes the block's argmax candidate. With
// check_finite, the lowest row with a non-finite distance goes to *bad_row.
__global__ void __launch_bounds__(kThreads)
    kc_update_kernel(const float* x, int64_t n, int64_t d, const int64_t* centre, double* min_d,
                     Candidate* partials, bool check_finite, unsigned long long* bad_row) {
  __shared__ Candidate sh[kRowsPerBlock];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + warp;
  Candidate mine{0.0, -1};
  if (row < n) {
    double m = min_d[row];
    if (m >= 0) {  // uniform across the warp
      const float* c = centre ? x + (*centre) * d : nullptr;
      double acc = kc_lane_partial(x + row * d, c, d, lane);
      for (int off = 16; off >= 1; off >>= 1)
        acc = __dadd_rn(acc, __shfl_down_sync(0xffffffffu, acc, off));
      if (lane == 0) {
        if (acc < m) m = acc;
        min_d[row] = m;
        if (check_finite && !isfinite(m)) atomicMin(bad_row, static_cast<unsigned long long>(row));
        mine = {m, row};
      }
    }
  }
  if (lane == 0) sh[warp] = mine;
  __syncthreads();
  if (threadIdx.x == 0) {
    Candidate b = sh[0];
    for (int w = 1; w < kRowsPerBlock; ++w)
      b = better_of(b, sh[w]);
    partials[blockIdx.x] = b;
  }
}

// The block argmax of min_d without any distance (after the initial centres are marked).
__global__ void __launch_bounds__(kThreads)
    kc_argmax_partial_kernel(const double* min_d, int64_t n, Candidate* partials) {
  __shared__ Candidate sh[kThreads];
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x;
  Candidate mine{0.0, -1};
  if (threadIdx.x < kRowsPerBlock && row < n && min_d[row] >= 0) mine = {min_d[row], row};
  sh[threadIdx.x] = mine;
  __syncthreads();
  if (threadIdx.x == 0) {
    Candidate b = sh[0];
    for (int w = 1; w < kRowsPerBlock; ++w)
      b = better_of(b, sh[w]);
    partials[blockIdx.x] = b;
  }
}

__global__ void kc_mark_kernel(const int64_t* rows, int64_t count, double* min_d) {
  const int64_t j = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (j < count) min_d[rows[j]] = -1.0;
}

// One block: the argmax over the partials becomes the next centre.
__global__ void __launch_bounds__(kReduceThreads)
    kc_select_kernel(const Candidate* partials, int64_t nparts, double* min_d, int64_t* sel,
                     int64_t* out) {
  __shared__ Candidate sh[kReduceThreads];
  Candidate b{0.0, -1};
  for (int64_t k = threadIdx.x; k < nparts; k += kReduceThreads)
    b = better_of(b, partials[k]);
  sh[threadIdx.x] = b;
  __syncthreads();
  for (int s = kReduceThreads / 2; s >= 1; s >>= 1) {
    if (threadIdx.x < s) sh[threadIdx.x] = better_of(sh[threadIdx.x], sh[threadIdx.x + s]);
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    const int64_t i = sh[0].i;
    *sel = i;
    *out = i;
    if (i >= 0) min_d[i] = -1.0;
  }
}

__global__ void fill_kernel(double* p, int64_t n, double v) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) p[i] = v;
}

unsigned blocks_for(int64_t n, int64_t per_block) {
  return static_cast<unsigned>((n + per_block - 1) / per_block);
}

}  // namespace

int64_t top_n_cuda(const float* score, int64_t n, int64_t k, int64_t* out_idx, void* stream) {
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  auto policy = thrust::cuda::par.on(st);
  thrust::device_vector<float> keys(n);
  thrust::device_vector<int64_t> vals(n);
  auto in = thrust::make_zip_iterator(thrust::make_tuple(thrust::device_pointer_cast(score),
                                                         thrust::counting_iterator<int64_t>(0)));
  auto out = thrust::make_zip_iterator(thrust::make_tuple(keys.begin(), vals.begin()));
  auto end = thrust::copy_if(policy, in, in + n, out, NotNan());
  const int64_t m = static_cast<int64_t>(end - out);
  thrust::stable_sort_by_key(policy, keys.begin(), keys.begin() + m, vals.begin(),
                             thrust::greater<float>());
  const int64_t kk = std::min(k, m);
  if (kk > 0) {
    NSAL_CUDA_CHECK(cudaMemcpyAsync(out_idx, thrust::raw_pointer_cast(vals.data()),
                                    sizeof(int64_t) * kk, cudaMemcpyDeviceToHost, st));
  }
  NSAL_CUDA_CHECK(cudaStreamSynchronize(st));
  return kk;
}

void kcenter_greedy_cuda(const float* x, int64_t n, int64_t d, const int64_t* initial,
                         int64_t n_init, int64_t budget, int64_t* out_idx, void* workspace,
                         size_t workspace_bytes, void* stream) {
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  const size_t need = kcenter_workspace_bytes(n, n_init, budget);
  NSAL_CHECK(workspace && workspace_bytes >= need,
             "kcenter_greedy on CUDA: workspace of {} bytes, {} needed", workspace_bytes, need);
  const int64_t nblocks = (n + kRowsPerBlock - 1) / kRowsPerBlock;
  NSAL_CHECK(nblocks < (int64_t{1} << 31), "kcenter_greedy: {} rows is too many", n);
  char* ws = static_cast<char*>(workspace);
  double* min_d = reinterpret_cast<double*>(ws);
  Candidate* parts = reinterpret_cast<Candidate*>(ws + 8 * n);
  int64_t* d_init = reinterpret_cast<int64_t*>(ws + 8 * n + 16 * nblocks);
  int64_t* d_out = d_init + n_init;
  int64_t* d_sel = d_out + budget;
  unsigned long long* d_bad = reinterpret_cast<unsigned long long*>(d_sel + 1);

  fill_kernel<<<blocks_for(n, 256), 256, 0, st>>>(min_d, n, HUGE_VAL);
  NSAL_CUDA_CHECK_LAUNCH();
  const unsigned long long no_row = ~0ull;
  NSAL_CUDA_CHECK(cudaMemcpyAsync(d_bad, &no_row, sizeof(no_row), cudaMemcpyHostToDevice, st));
  if (n_init > 0)
    NSAL_CUDA_CHECK(
        cudaMemcpyAsync(d_init, initial, sizeof(int64_t) * n_init, cudaMemcpyHostToDevice, st));
  const unsigned grid = static_cast<unsigned>(nblocks);
  if (n_init == 0) {
    kc_update_kernel<<<grid, kThreads, 0, st>>>(x, n, d, nullptr, min_d, parts, true, d_bad);
    NSAL_CUDA_CHECK_LAUNCH();
  }
  for (int64_t j = 0; j < n_init; ++j) {
    kc_update_kernel<<<grid, kThreads, 0, st>>>(x, n, d, d_init + j, min_d, parts, j + 1 == n_init,
                                                d_bad);
    NSAL_CUDA_CHECK_LAUNCH();
  }
  unsigned long long bad = 0;
  NSAL_CUDA_CHECK(cudaMemcpyAsync(&bad, d_bad, sizeof(bad), cudaMemcpyDeviceToHost, st));
  NSAL_CUDA_CHECK(cudaStreamSynchronize(st));
  NSAL_CHECK(bad == no_row,
             "kcenter_greedy: row {} has a non-finite distance: the features hold NaN or "
             "infinity",
             bad);
  if (n_init > 0) {
    kc_mark_kernel<<<blocks_for(n_init, 256), 256, 0, st>>>(d_init, n_init, min_d);
    NSAL_CUDA_CHECK_LAUNCH();
  }
  kc_argmax_partial_kernel<<<grid, kThreads, 0, st>>>(min_d, n, parts);
  NSAL_CUDA_CHECK_LAUNCH();
  for (int64_t b = 0; b < budget; ++b) {
    kc_select_kernel<<<1, kReduceThreads, 0, st>>>(parts, nblocks, min_d, d_sel, d_out + b);
    NSAL_CUDA_CHECK_LAUNCH();
    if (b + 1 < budget) {
      kc_update_kernel<<<grid, kThreads, 0, st>>>(x, n, d, d_sel, min_d, parts, false, nullptr);
      NSAL_CUDA_CHECK_LAUNCH();
    }
  }
  NSAL_CUDA_CHECK(
      cudaMemcpyAsync(out_idx, d_out, sizeof(int64_t) * budget, cudaMemcpyDeviceToHost, st));
  NSAL_CUDA_CHECK(cudaStreamSynchronize(st));
}

}  // namespace nsal::kernels

// CUDA deviation kernels (kernels/deviation.h). One thread per sample when P = 1; one block per
// sample otherwise (threads over pixels, coalesced along P), reduced in a fixed tree, so the
// result does not depend on timing. Non-finite samples are counted with an atomic counter
// (a count, whose value does not depend on order).
#include <cmath>

#include "kernels/cuda/check.h"
#include "kernels/deviation_backend.h"
#include "kernels/deviation_row.h"

namespace nsal::kernels {

namespace {

constexpr int kThreads = 256;

__global__ void sq_deviation_rows_kernel(const float* clean, const float* perturbed, int64_t n,
                                         int64_t c, const uint8_t* valid, bool softmax,
                                         float* score, unsigned long long* bad) {
  const int64_t s = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (s >= n || (valid && !valid[s])) return;
  bool finite = true;
  const double d = pixel_sq_deviation(clean + s * c, perturbed + s * c, c, 1, softmax, finite);
  if (!finite) {
    score[s] = NAN;
    if (bad) atomicAdd(bad, 1ull);
  } else {
    score[s] = static_cast<float>(static_cast<double>(score[s]) + d);
  }
}

__global__ void __launch_bounds__(kThreads)
    sq_deviation_pixels_kernel(const float* clean, const float* perturbed, int64_t c, int64_t p,
                               const uint8_t* valid, bool softmax, float* score,
                               unsigned long long* bad) {
  __shared__ double sh_acc[kThreads];
  __shared__ long long sh_n[kThreads];
  const int64_t s = blockIdx.x;
  const float* a = clean + s * c * p;
  const float* b = perturbed + s * c * p;
  double acc = 0.0;
  long long nvalid = 0;
  int finite = 1;
  for (int64_t q = threadIdx.x; q < p; q += kThreads) {
    if (valid && !valid[s * p + q]) continue;
    bool f = true;
    acc += pixel_sq_deviation(a + q, b + q, c, p, softmax, f);
    finite &= f ? 1 : 0;
    ++nvalid;
  }
  finite = __syncthreads_and(finite);
  sh_acc[threadIdx.x] = acc;
  sh_n[threadIdx.x] = nvalid;
  __syncthreads();
  for (int st = kThreads / 2; st >= 1; st >>= 1) {
    if (threadIdx.x < st) {
      sh_acc[threadIdx.x] += sh_acc[threadIdx.x + st];
      sh_n[threadIdx.x] += sh_n[threadIdx.x + st];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    if (!finite) {
      score[s] = NAN;
      if (bad) atomicAdd(bad, 1ull);
    } else if (sh_n[0] > 0) {
      score[s] = static_cast<float>(static_cast<double>(score[s]) + sh_acc[0] / sh_n[0]);
    }
  }
}

__global__ void finalize_mean_kernel(float* score, int64_t n, int64_t num_draws) {
  const int64_t s = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (s < n) score[s] = static_cast<float>(static_cast<double>(score[s]) / num_draws);
}

__global__ void deviation_vectors_kernel(const float* clean, const float* perturbed, int64_t n,
                                         int64_t c, bool softmax, int64_t draw, int64_t num_draws,
                                         float* out, float* score, unsigned long long* bad) {
  const int64_t s = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (s >= n) return;
  double sq = 0.0;
  bool finite = true;
  if (!deviation_vector_row(clean + s * c, perturbed + s * c, c, softmax,
                            out + s * c * num_draws + draw * c, &sq, &finite))
    if (bad) atomicAdd(bad, 1ull);
  if (score) accumulate_row_score(score[s], sq, finite);
}

unsigned grid_for(int64_t n) {
  return static_cast<unsigned>((n + kThreads - 1) / kThreads);
}

// A stream-ordered counter for the non-finite samples of one call, or none (get() is null and
// read() 0: nothing allocated, nothing waited for).
class BadCounter {
 public:
  BadCounter(cudaStream_t s, bool on) : stream_(s) {
    if (!on) return;
    NSAL_CUDA_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&p_), sizeof(*p_), stream_));
    NSAL_CUDA_CHECK(cudaMemsetAsync(p_, 0, sizeof(*p_), stream_));
  }
  ~BadCounter() {
    if (p_) cudaFreeAsync(p_, stream_);
  }
  BadCounter(const BadCounter&) = delete;
  BadCounter& operator=(const BadCounter&) = delete;
  unsigned long long* get() const { return p_; }
  int64_t read() const {
    if (!p_) return 0;
    unsigned long long v = 0;
    NSAL_CUDA_CHECK(cudaMemcpyAsync(&v, p_, sizeof(v), cudaMemcpyDeviceToHost, stream_));
    NSAL_CUDA_CHECK(cudaStreamSynchronize(stream_));
    return static_cast<int64_t>(v);
  }

 private:
  cudaStream_t stream_;
  unsigned long long* p_ = nullptr;
};

}  // namespace

int64_t accumulate_sq_deviation_cuda(const float* clean, const float* perturbed, int64_t n,
                                     int64_t c, int64_t p, const uint8_t* valid, bool softmax,
                                     float* score, void* stream, bool count_nonfinite) {
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  NSAL_CHECK(n < (int64_t{1} << 31), "accumulate_sq_deviation: {} samples is too many", n);
  BadCounter bad(st, count_nonfinite);
  if (p == 1) {
    sq_deviation_rows_kernel<<<grid_for(n), kThreads, 0, st>>>(clean, perturbed, n, c, valid,
                                                               softmax, score, bad.get());
  } else {
    sq_deviation_pixels_kernel<<<static_cast<unsigned>(n), kThreads, 0, st>>>(
        clean, perturbed, c, p, valid, softmax, score, bad.get());
  }
  NSAL_CUDA_CHECK_LAUNCH();
  return bad.read();
}

void finalize_mean_cuda(float* score, int64_t n, int64_t num_draws, void* stream) {
  finalize_mean_kernel<<<grid_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(score, n,
                                                                                        num_draws);
  NSAL_CUDA_CHECK_LAUNCH();
}

int64_t deviation_vectors_cuda(const float* clean, const float* perturbed, int64_t n, int64_t c,
                               bool softmax, int64_t draw, int64_t num_draws, float* out,
                               float* score, void* stream, bool count_nonfinite) {
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  BadCounter bad(st, count_nonfinite);
  deviation_vectors_kernel<<<grid_for(n), kThreads, 0, st>>>(clean, perturbed, n, c, softmax, draw,
                                                             num_draws, out, score, bad.get());
  NSAL_CUDA_CHECK_LAUNCH();
  return bad.read();
}

}  // namespace nsal::kernels

// Softmax / log-softmax over dim 1 of (N, C, P), and cross-entropy on logits.
//
// A "row" is one (n, p): C elements at stride P. For P == 1 a warp handles a row (lanes read
// neighbouring classes); for P > 1 a thread handles a row (neighbouring threads read
// neighbouring positions). Both reduce in a fixed order. The cross-entropy loss sums its rows'
// terms with the deterministic two-stage reduction; for P == 1 a warp per row first writes each
// row's terms (a thread per row would read a 1000-class row alone, uncoalesced).
#include <math.h>

#include "kernels/cuda/gpu_handles.h"
#include "kernels/cuda/reduce.cuh"
#include "kernels/cuda/validate.h"
#include "kernels/cuda_ops.h"

namespace nsal::cuda {
namespace {

template <int G>
__device__ __forceinline__ float group_max(float v) {
  if constexpr (G == 32)
    return warp_max(v);
  else
    return v;
}
template <int G>
__device__ __forceinline__ float group_sum(float v) {
  if constexpr (G == 32)
    return warp_sum(v);
  else
    return v;
}

__device__ __forceinline__ int64_t row_base(int64_t r, int64_t c, int64_t p) {
  int64_t n = r / p;
  return n * c * p + (r - n * p);
}

// Loop over the rows of the grid, G threads per row (warp-uniform for G == 32).
#define NSAL_ROW_LOOP(G, r, rows)                                                       \
  const int lane = static_cast<int>(threadIdx.x % (G));                                 \
  const int64_t groups = static_cast<int64_t>(gridDim.x) * blockDim.x / (G);            \
  for (int64_t r = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / (G); \
       r < (rows); r += groups)

template <int G>
__device__ __forceinline__ void row_max_sum(const float* x, int64_t base, int64_t c, int64_t p,
                                            int lane, float& m, float& s) {
  m = -INFINITY;
  for (int64_t k = lane; k < c; k += G)
    m = fmaxf(m, x[base + k * p]);
  m = group_max<G>(m);
  s = 0.f;
  for (int64_t k = lane; k < c; k += G)
    s += expf(x[base + k * p] - m);
  s = group_sum<G>(s);
}

template <int G, bool LOG>
__global__ void softmax_forward_kernel(int64_t rows, int64_t c, int64_t p, const float* x,
                                       float* y) {
  NSAL_ROW_LOOP(G, r, rows) {
    const int64_t base = row_base(r, c, p);
    float m, s;
    row_max_sum<G>(x, base, c, p, lane, m, s);
    if (LOG) {
      const float ls = logf(s);
      for (int64_t k = lane; k < c; k += G)
        y[base + k * p] = x[base + k * p] - m - ls;
    } else {
      for (int64_t k = lane; k < c; k += G)
        y[base + k * p] = expf(x[base + k * p] - m) / s;
    }
  }
}

template <int G, bool LOG>
__global__ void softmax_backward_kernel(int64_t rows, int64_t c, int64_t p, const float* y,
                                        const float* dy, float* dx) {
  NSAL_ROW_LOOP(G, r, rows) {
    const int64_t base = row_base(r, c, p);
    float dot = 0.f;
    for (int64_t k = lane; k < c; k += G)
      dot += LOG ? dy[base + k * p] : dy[base + k * p] * y[base + k * p];
    dot = group_sum<G>(dot);
    for (int64_t k = lane; k < c; k += G) {
      const int64_t i = base + k * p;
      dx[i] = LOG ? dy[i] - expf(y[i]) * dot : y[i] * (dy[i] - dot);
    }
  }
}

__device__ __forceinline__ double quiet_nan() {
  return __longlong_as_double(0x7ff8000000000000LL);
}

// Adds w[y] * nll and w[y] of row r (ignored rows add nothing; a bad label adds NaN).
struct CrossEntropyTerm {
  const float* x;
  const int32_t* labels;
  const float* weight;
  int64_t c, p;
  int32_t ignore;
  __device__ void operator()(int64_t r, double* acc) const {
    const int32_t y = labels[r];
    if (y == ignore) return;
    if (y < 0 || y >= c) {
      acc[0] += quiet_nan();
      acc[1] += 1.0;
      return;
    }
    const int64_t base = row_base(r, c, p);
    float m, s;
    row_max_sum<1>(x, base, c, p, 0, m, s);
    const float nll = -(x[base + y * p] - m - logf(s));
    const double w = weight ? static_cast<double>(weight[y]) : 1.0;
    acc[0] += w * nll;
    acc[1] += w;
  }
};

// P == 1: a warp per row writes the row's w[y] * nll and w[y] to terms[2r], terms[2r + 1].
__global__ void cross_entropy_rows_kernel(int64_t rows, int64_t c, const float* x,
                                          const int32_t* labels, const float* weight,
                                          int32_t ignore, double* terms) {
  NSAL_ROW_LOOP(32, r, rows) {
    const int32_t y = labels[r];
    double t0 = 0.0, t1 = 0.0;
    if (y != ignore && (y < 0 || y >= c)) {
      t0 = quiet_nan();
      t1 = 1.0;
    } else if (y != ignore) {
      const int64_t base = r * c;
      float m, s;
      row_max_sum<32>(x, base, c, 1, lane, m, s);
      const float nll = -(x[base + y] - m - logf(s));
      t1 = weight ? static_cast<double>(weight[y]) : 1.0;
      t0 = t1 * nll;
    }
    if (lane == 0) {
      terms[2 * r] = t0;
      terms[2 * r + 1] = t1;
    }
  }
}

// Adds row r's terms as cross_entropy_rows_kernel wrote them.
struct RowTerms {
  const double* terms;
  __device__ void operator()(int64_t r, double* acc) const {
    acc[0] += terms[2 * r];
    acc[1] += terms[2 * r + 1];
  }
};

struct CrossEntropyFinish {
  float* loss;
  double* weight_sum;
  bool mean;
  __device__ void operator()(const double* t) const {
    *weight_sum = t[1];
    *loss = static_cast<float>(mean ? t[0] / t[1] : t[0]);
  }
};

template <int G>
__global__ void cross_entropy_backward_kernel(int64_t rows, int64_t c, int64_t p, const float* x,
                                              const int32_t* labels, const float* weight,
                                              int32_t ignore, bool mean, const double* weight_sum,
                                              float dloss, float* dx) {
  const float scale = mean ? static_cast<float>(static_cast<double>(dloss) / *weight_sum) : dloss;
  NSAL_ROW_LOOP(G, r, rows) {
    const int64_t base = row_base(r, c, p);
    const int32_t y = labels[r];
    if (y == ignore || y < 0 || y >= c) {
      const float v = y == ignore ? 0.f : static_cast<float>(quiet_nan());
      for (int64_t k = lane; k < c; k += G)
        dx[base + k * p] = v;
      continue;
    }
    float m, s;
    row_max_sum<G>(x, base, c, p, lane, m, s);
    const float g = scale * (weight ? weight[y] : 1.f);
    for (int64_t k = lane; k < c; k += G) {
      const float prob = expf(x[base + k * p] - m) / s;
      dx[base + k * p] = g * (prob - (k == y ? 1.f : 0.f));
    }
  }
}

#undef NSAL_ROW_LOOP

void check_nc_p(int64_t n, int64_t c, int64_t p, const char* op) {
  check_positive(n, "N", op);
  check_positive(c, "C", op);
  check_positive(p, "P (positions)", op);
}

// Launches kernel<32> (a warp per row) for P == 1, kernel<1> (a thread per row) otherwise.
template <typename K32, typename K1, typename... Args>
void launch_rows(cudaStream_t s, int64_t rows, int64_t p, K32 k32, K1 k1, Args... args) {
  if (p == 1)
    k32<<<grid_for(rows * 32), kBlock, 0, s>>>(rows, args...);
  else
    k1<<<grid_for(rows), kBlock, 0, s>>>(rows, args...);
  NSAL_CUDA_CHECK_LAUNCH();
}

}  // namespace
}  // namespace nsal::cuda

namespace nsal::kernels::gpu {

using cuda::check_device_ptr;

#define NSAL_SOFTMAX_FORWARD(name, LOG)                                                     \
  void name(const GpuExec& ex, int64_t n, int64_t c, int64_t p, const float* x, float* y) { \
    const char* op = #name;                                                                 \
    cuda::check_nc_p(n, c, p, op);                                                          \
    cudaStream_t s = cuda::stream_of(ex, op);                                               \
    check_device_ptr(x, "x", op);                                                           \
    check_device_ptr(y, "y", op);                                                           \
    cuda::launch_rows(s, n* p, p, cuda::softmax_forward_kernel<32, LOG>,                    \
                      cuda::softmax_forward_kernel<1, LOG>, c, p, x, y);                    \
  }
NSAL_SOFTMAX_FORWARD(softmax_forward, false)
NSAL_SOFTMAX_FORWARD(log_softmax_forward, true)
#undef NSAL_SOFTMAX_FORWARD

#define NSAL_SOFTMAX_BACKWARD(name, LOG)                                                         \
  void name(const GpuExec& ex, int64_t n, int64_t c, int64_t p, const float* y, const float* dy, \
            float* dx) {                                                                         \
    const char* op = #name;                                                                      \
    cuda::check_nc_p(n, c, p, op);                                                               \
    cudaStream_t s = cuda::stream_of(ex, op);                                                    \
    check_device_ptr(y, "y", op);                                                                \
    check_device_ptr(dy, "dy", op);                                                              \
    check_device_ptr(dx, "dx", op);                                                              \
    cuda::launch_rows(s, n* p, p, cuda::softmax_backward_kernel<32, LOG>,                        \
                      cuda::softmax_backward_kernel<1, LOG>, c, p, y, dy, dx);                   \
  }
NSAL_SOFTMAX_BACKWARD(softmax_backward, false)
NSAL_SOFTMAX_BACKWARD(log_softmax_backward, true)
#undef NSAL_SOFTMAX_BACKWARD

void cross_entropy_forward(const GpuExec& ex, int64_t n, int64_t c, int64_t p, const float* logits,
                           const int32_t* labels, const float* class_weight, int32_t ignore_index,
                           Reduction reduction, float* loss, double* weight_sum) {
  const char* op = "cross_entropy_forward";
  cuda::check_nc_p(n, c, p, op);
  cudaStream_t s = cuda::stream_of(ex, op);
  check_device_ptr(logits, "logits", op);
  check_device_ptr(labels, "labels", op);
  cuda::check_device_ptr_or_null(class_weight, "class_weight", op);
  check_device_ptr(loss, "loss", op);
  check_device_ptr(weight_sum, "weight_sum", op);
  const int64_t rows = n * p;
  const cuda::CrossEntropyFinish finish{loss, weight_sum, reduction == Reduction::mean};
  if (p == 1) {
    // Workspace: the reduction's scratch, then two terms per row.
    auto* scratch = static_cast<double*>(
        cuda::workspace_of(ex, cuda::reduce_scratch_bytes(2) + 2 * rows * sizeof(double), op));
    double* terms = scratch + 2 * cuda::kReduceMaxBlocks;
    cuda::cross_entropy_rows_kernel<<<cuda::grid_for(rows * 32), cuda::kBlock, 0, s>>>(
        rows, c, logits, labels, class_weight, ignore_index, terms);
    NSAL_CUDA_CHECK_LAUNCH();
    cuda::reduce_launch<2>(s, rows, cuda::RowTerms{terms}, finish, scratch);
    return;
  }
  auto* scratch = static_cast<double*>(cuda::workspace_of(ex, cuda::reduce_scratch_bytes(2), op));
  cuda::reduce_launch<2>(s, rows,
                         cuda::CrossEntropyTerm{logits, labels, class_weight, c, p, ignore_index},
                         finish, scratch);
}

void cross_entropy_backward(const GpuExec& ex, int64_t n, int64_t c, int64_t p, const float* logits,
                            const int32_t* labels, const float* class_weight, int32_t ignore_index,
                            Reduction reduction, const double* weight_sum, float dloss,
                            float* dlogits) {
  const char* op = "cross_entropy_backward";
  cuda::check_nc_p(n, c, p, op);
  cudaStream_t s = cuda::stream_of(ex, op);
  check_device_ptr(logits, "logits", op);
  check_device_ptr(labels, "labels", op);
  cuda::check_device_ptr_or_null(class_weight, "class_weight", op);
  check_device_ptr(weight_sum, "weight_sum", op);
  check_device_ptr(dlogits, "dlogits", op);
  cuda::launch_rows(s, n * p, p, cuda::cross_entropy_backward_kernel<32>,
                    cuda::cross_entropy_backward_kernel<1>, c, p, logits, labels, class_weight,
                    ignore_index, reduction == Reduction::mean, weight_sum, dloss, dlogits);
}

}  // namespace nsal::kernels::gpu

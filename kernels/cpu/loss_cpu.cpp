#include "kernels/cpu/loss_cpu.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/parallel.h"

namespace nsal::kernels::cpu {

constexpr int64_t kChunk = 1 << 14;

int64_t reduction_chunks(int64_t n) {
  return std::max<int64_t>(1, (n + kChunk - 1) / kChunk);
}

int64_t first_invalid_label(const int32_t* target, int64_t n, int64_t C, int32_t ignore_index) {
  int64_t first = n;
#pragma omp parallel for simd reduction(min : first) if (n >= kParallelMinWork)
  for (int64_t i = 0; i < n; ++i) {
    const int32_t t = target[i];
    const bool bad = t != ignore_index && (t < 0 || t >= C);
    first = bad && i < first ? i : first;
  }
  return first == n ? -1 : first;
}

// Sum of f(i) over [0, n) in fixed chunks; the chunk sums are added in order.
template <typename F>
static double chunked_sum(int64_t n, double* scratch, F&& f) {
  const int64_t chunks = reduction_chunks(n);
#pragma omp parallel for schedule(static) if (n >= kParallelMinWork)
  for (int64_t k = 0; k < chunks; ++k) {
    const int64_t e = std::min(n, (k + 1) * kChunk);
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = k * kChunk; i < e; ++i)
      s += f(i);
    scratch[k] = s;
  }
  double total = 0;
  for (int64_t k = 0; k < chunks; ++k)
    total += scratch[k];
  return total;
}

template <typename T>
void cross_entropy_sums(const T* x, const int32_t* target, const double* lse, const T* weight,
                        int32_t ignore_index, int64_t N, int64_t C, int64_t S, double* scratch,
                        double& loss_sum, double& weight_sum) {
  const int64_t n = N * S, chunks = reduction_chunks(n);
  auto w_of = [&](int64_t i) {
    const int32_t t = target[i];
    if (t == ignore_index) return 0.0;
    return weight ? static_cast<double>(weight[t]) : 1.0;
  };
  loss_sum = chunked_sum(n, scratch, [&](int64_t i) {
    const int32_t t = target[i];
    if (t == ignore_index) return 0.0;
    const int64_t b = i / S, s = i % S;
    const double xt = static_cast<double>(x[(b * C + t) * S + s]);
    return w_of(i) * (lse[i] - xt);
  });
  weight_sum = chunked_sum(n, scratch + chunks, w_of);
}

template <typename T>
void cross_entropy_backward(const T* x, const int32_t* target, const double* lse, const T* weight,
                            int32_t ignore_index, int64_t N, int64_t C, int64_t S, double scale,
                            T* dx) {
#pragma omp parallel for schedule(static) if (N * C * S >= kParallelMinWork)
  for (int64_t plane = 0; plane < N * C; ++plane) {
    const int64_t b = plane / C;
    const int32_t c = static_cast<int32_t>(plane % C);
    const T* xp = x + plane * S;
    const double* lp = lse + b * S;
    const int32_t* tp = target + b * S;
    T* dp = dx + plane * S;
    for (int64_t s = 0; s < S; ++s) {
      const int32_t t = tp[s];
      if (t == ignore_index) {
        dp[s] = T(0);
        continue;
      }
      const double w = (weight ? static_cast<double>(weight[t]) : 1.0) * scale;
      const double p = std::exp(static_cast<double>(xp[s]) - lp[s]);
      dp[s] = static_cast<T>((p - (t == c ? 1.0 : 0.0)) * w);
    }
  }
}

template <typename T>
double squared_error_sum(const T* x, const T* t, int64_t n, double* scratch) {
  return chunked_sum(n, scratch, [&](int64_t i) {
    const double d = static_cast<double>(x[i]) - static_cast<double>(t[i]);
    return d * d;
  });
}

template <typename T>
double absolute_error_sum(const T* x, const T* t, int64_t n, double* scratch) {
  return chunked_sum(n, scratch, [&](int64_t i) {
    return std::abs(static_cast<double>(x[i]) - static_cast<double>(t[i]));
  });
}

template <typename T>
void squared_error_backward(const T* x, const T* t, int64_t n, double scale, T* dx) {
  const T k = static_cast<T>(2.0 * scale);
#pragma omp parallel for simd schedule(static) if (n >= kParallelMinWork)
  for (int64_t i = 0; i < n; ++i)
    dx[i] = k * (x[i] - t[i]);
}

template <typename T>
void absolute_error_backward(const T* x, const T* t, int64_t n, double scale, T* dx) {
  const T k = static_cast<T>(scale);
#pragma omp parallel for simd schedule(static) if (n >= kParallelMinWork)
  for (int64_t i = 0; i < n; ++i) {
    const T d = x[i] - t[i];
    dx[i] = d > T(0) ? k : (d < T(0) ? -k : T(0));
  }
}

#define NSAL_INSTANTIATE(T)                                                                       \
  template void cross_entropy_sums<T>(const T*, const int32_t*, const double*, const T*, int32_t, \
                                      int64_t, int64_t, int64_t, double*, double&, double&);      \
  template void cross_entropy_backward<T>(const T*, const int32_t*, const double*, const T*,      \
                                          int32_t, int64_t, int64_t, int64_t, double, T*);        \
  template double squared_error_sum<T>(const T*, const T*, int64_t, double*);                     \
  template double absolute_error_sum<T>(const T*, const T*, int64_t, double*);                    \
  template void squared_error_backward<T>(const T*, const T*, int64_t, double, T*);               \
  template void absolute_error_backward<T>(const T*, const T*, int64_t, double, T*);
NSAL_INSTANTIATE(float)
NSAL_INSTANTIATE(double)
#undef NSAL_INSTANTIATE

}  // namespace nsal::kernels::cpu

#include "kernels/cpu/batchnorm_cpu.h"

#include "kernels/batchnorm.h"
#include "kernels/cpu/parallel.h"

namespace nsal::kernels::cpu {

template <typename T>
static void scale_shift_plane(const T* x, T* y, int64_t S, T scale, T shift) {
#pragma omp simd
  for (int64_t i = 0; i < S; ++i)
    y[i] = x[i] * scale + shift;
}

template <typename T>
void batchnorm_forward_train(const T* x, int64_t N, int64_t C, int64_t S, const T* gamma,
                             const T* beta, double eps, T* y, double* mean, double* invstd,
                             double* var) {
  const double count = static_cast<double>(N * S);
#pragma omp parallel for schedule(static) if (N * C * S >= kParallelMinWork)
  for (int64_t c = 0; c < C; ++c) {
    double sum = 0;
    for (int64_t n = 0; n < N; ++n) {
      const T* p = x + (n * C + c) * S;
#pragma omp simd reduction(+ : sum)
      for (int64_t i = 0; i < S; ++i)
        sum += static_cast<double>(p[i]);
    }
    const double m = sum / count;
    double sq = 0;
    for (int64_t n = 0; n < N; ++n) {
      const T* p = x + (n * C + c) * S;
#pragma omp simd reduction(+ : sq)
      for (int64_t i = 0; i < S; ++i) {
        const double d = static_cast<double>(p[i]) - m;
        sq += d * d;
      }
    }
    const double v = sq / count;
    const double is = bn_invstd(v, eps);
    mean[c] = m;
    var[c] = v;
    invstd[c] = is;
    double scale, shift;
    bn_scale_shift(gamma ? static_cast<double>(gamma[c]) : 1.0,
                   beta ? static_cast<double>(beta[c]) : 0.0, m, is, scale, shift);
    for (int64_t n = 0; n < N; ++n)
      scale_shift_plane(x + (n * C + c) * S, y + (n * C + c) * S, S, static_cast<T>(scale),
                        static_cast<T>(shift));
  }
}

template <typename T>
void batchnorm_forward_eval(const T* x, int64_t N, int64_t C, int64_t S, const T* gamma,
                            const T* beta, const T* running_mean, const T* running_var, double eps,
                            T* y) {
#pragma omp parallel for schedule(static) if (N * C * S >= kParallelMinWork)
  for (int64_t plane = 0; plane < N * C; ++plane) {
    const int64_t c = plane % C;
    double scale, shift;
    bn_scale_shift(gamma ? static_cast<double>(gamma[c]) : 1.0,
                   beta ? static_cast<double>(beta[c]) : 0.0, static_cast<double>(running_mean[c]),
                   bn_invstd(static_cast<double>(running_var[c]), eps), scale, shift);
    scale_shift_plane(x + plane * S, y + plane * S, S, static_cast<T>(scale),
                      static_cast<T>(shift));
  }
}

template <typename T>
void batchnorm_backward_train(const T* x, const T* dy, int64_t N, int64_t C, int64_t S,
                              const double* mean, const double* invstd, const T* gamma, T* dx,
                              T* dgamma, T* dbeta) {
  const double count = static_cast<double>(N * S);
#pragma omp parallel for schedule(static) if (N * C * S >= kParallelMinWork)
  for (int64_t c = 0; c < C; ++c) {
    const double m = mean[c];
    double sum_dy = 0, sum_dy_xmu = 0;
    for (int64_t n = 0; n < N; ++n) {
      const T* px = x + (n * C + c) * S;
      const T* pdy = dy + (n * C + c) * S;
#pragma omp simd reduction(+ : sum_dy, sum_dy_xmu)
      for (int64_t i = 0; i < S; ++i) {
        const double g = static_cast<double>(pdy[i]);
        sum_dy += g;
        sum_dy_xmu += g * (static_cast<double>(px[i]) - m);
      }
    }
    if (dgamma) dgamma[c] += static_cast<T>(sum_dy_xmu * invstd[c]);
    if (dbeta) dbeta[c] += static_cast<T>(sum_dy);
    if (!dx) continue;
    double a, b, k;
    bn_backward_coeffs(gamma ? static_cast<double>(gamma[c]) : 1.0, m, invstd[c], sum_dy,
                       sum_dy_xmu, count, a, b, k);
    const T ta = static_cast<T>(a), tb = static_cast<T>(b), tk = static_cast<T>(k);
    for (int64_t n = 0; n < N; ++n) {
      const T* px = x + (n * C + c) * S;
      const T* pdy = dy + (n * C + c) * S;
      T* pdx = dx + (n * C + c) * S;
#pragma omp simd
      for (int64_t i = 0; i < S; ++i)
        pdx[i] = ta * pdy[i] + tb * px[i] + tk;
    }
  }
}

template <typename T>
void batchnorm_backward_eval(const T* x, const T* dy, int64_t N, int64_t C, int64_t S,
                             const T* gamma, const T* running_mean, const T* running_var,
                             double eps, T* dx, T* dgamma, T* dbeta) {
#pragma omp parallel for schedule(static) if (N * C * S >= kParallelMinWork)
  for (int64_t c = 0; c < C; ++c) {
    const double invstd = bn_invstd(static_cast<double>(running_var[c]), eps);
    const double m = static_cast<double>(running_mean[c]);
    const double scale = (gamma ? static_cast<double>(gamma[c]) : 1.0) * invstd;
    double sum_dy = 0, sum_dy_xhat = 0;
    for (int64_t n = 0; n < N; ++n) {
      const T* px = x + (n * C + c) * S;
      const T* pdy = dy + (n * C + c) * S;
      T* pdx = dx ? dx + (n * C + c) * S : nullptr;
      for (int64_t i = 0; i < S; ++i) {
        const double g = static_cast<double>(pdy[i]);
        sum_dy += g;
        sum_dy_xhat += g * (static_cast<double>(px[i]) - m) * invstd;
        if (pdx) pdx[i] = static_cast<T>(g * scale);
      }
    }
    if (dgamma) dgamma[c] += static_cast<T>(sum_dy_xhat);
    if (dbeta) dbeta[c] += static_cast<T>(sum_dy);
  }
}

#define NSAL_INSTANTIATE(T)                                                                        \
  template void batchnorm_forward_train<T>(const T*, int64_t, int64_t, int64_t, const T*,          \
                                           const T*, double, T*, double*, double*, double*);       \
  template void batchnorm_forward_eval<T>(const T*, int64_t, int64_t, int64_t, const T*, const T*, \
                                          const T*, const T*, double, T*);                         \
  template void batchnorm_backward_train<T>(const T*, const T*, int64_t, int64_t, int64_t,         \
                                            const double*, const double*, const T*, T*, T*, T*);   \
  template void batchnorm_backward_eval<T>(const T*, const T*, int64_t, int64_t, int64_t,          \
                                           const T*, const T*, const T*, double, T*, T*, T*);
NSAL_INSTANTIATE(float)
NSAL_INSTANTIATE(double)
#undef NSAL_INSTANTIATE

}  // namespace nsal::kernels::cpu

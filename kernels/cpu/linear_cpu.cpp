#include "kernels/cpu/linear_cpu.h"

#include "kernels/cpu/blas_gemm.h"
#include "kernels/cpu/parallel.h"

namespace nsal::kernels::cpu {

template <typename T>
void linear_forward(const T* x, const T* weight, const T* bias, T* y, int64_t rows, int64_t in,
                    int64_t out) {
  if (rows == 0 || out == 0) return;
  T beta = T(0);
  if (bias) {
    // Start from the bias in every row, then y += x W^T in the GEMM itself.
#pragma omp parallel for schedule(static) if (rows * out >= kParallelMinWork)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t o = 0; o < out; ++o)
        y[r * out + o] = bias[o];
    beta = T(1);
  }
  if (in == 0) {
    if (!bias)
      for (int64_t i = 0; i < rows * out; ++i)
        y[i] = T(0);
    return;
  }
  tiled_gemm(false, true, rows, out, in, x, in, weight, in, beta, y, out);
}

template <typename T>
void linear_backward(const T* x, const T* weight, const T* dy, T* dx, T* dweight, T* dbias,
                     int64_t rows, int64_t in, int64_t out) {
  if (rows > 0 && in > 0 && out > 0) {
    tiled_gemm(true, false, out, in, rows, dy, out, x, in, T(1), dweight, in);
    if (dx) tiled_gemm(false, false, rows, in, out, dy, out, weight, in, T(0), dx, in);
  } else if (dx) {
    for (int64_t i = 0; i < rows * in; ++i)
      dx[i] = T(0);
  }
  if (dbias) {
#pragma omp parallel for schedule(static) if (rows * out >= kParallelMinWork)
    for (int64_t o = 0; o < out; ++o) {
      double sum = 0;
      for (int64_t r = 0; r < rows; ++r)
        sum += static_cast<double>(dy[r * out + o]);
      dbias[o] += static_cast<T>(sum);
    }
  }
}

template void linear_forward<float>(const float*, const float*, const float*, float*, int64_t,
                                    int64_t, int64_t);
template void linear_forward<double>(const double*, const double*, const double*, double*, int64_t,
                                     int64_t, int64_t);
template void linear_backward<float>(const float*, const float*, const float*, float*, float*,
                                     float*, int64_t, int64_t, int64_t);
template void linear_backward<double>(const double*, const double*, const double*, double*, double*,
                                      double*, int64_t, int64_t, int64_t);

}  // namespace nsal::kernels::cpu

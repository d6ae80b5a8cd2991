#include "kernels/cpu/activation_cpu.h"

#include "kernels/activation.h"
#include "kernels/cpu/parallel.h"

namespace nsal::kernels::cpu {

template <typename T>
void relu_forward(const T* x, T* y, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelMinWork)
  for (int64_t i = 0; i < n; ++i)
    y[i] = kernels::relu_forward(x[i]);
}

template <typename T>
void relu_backward(const T* x, const T* dy, T* dx, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelMinWork)
  for (int64_t i = 0; i < n; ++i)
    dx[i] = kernels::relu_backward(x[i], dy[i]);
}

template <typename T>
void relu6_forward(const T* x, T* y, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelMinWork)
  for (int64_t i = 0; i < n; ++i)
    y[i] = kernels::relu6_forward(x[i]);
}

template <typename T>
void relu6_backward(const T* x, const T* dy, T* dx, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelMinWork)
  for (int64_t i = 0; i < n; ++i)
    dx[i] = kernels::relu6_backward(x[i], dy[i]);
}

#define NSAL_INSTANTIATE(T)                                        \
  template void relu_forward<T>(const T*, T*, int64_t);            \
  template void relu_backward<T>(const T*, const T*, T*, int64_t); \
  template void relu6_forward<T>(const T*, T*, int64_t);           \
  template void relu6_backward<T>(const T*, const T*, T*, int64_t);
NSAL_INSTANTIATE(float)
NSAL_INSTANTIATE(double)
#undef NSAL_INSTANTIATE

}  // namespace nsal::kernels::cpu

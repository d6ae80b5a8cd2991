#include "kernels/cpu/elementwise_cpu.h"

#include <cstring>

#include "kernels/cpu/parallel.h"

namespace nsal::kernels::cpu {

template <typename T>
void add(const T* a, const T* b, T* y, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelMinWork)
  for (int64_t i = 0; i < n; ++i)
    y[i] = a[i] + b[i];
}

template <typename T>
void accumulate(T* y, const T* x, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelMinWork)
  for (int64_t i = 0; i < n; ++i)
    y[i] += x[i];
}

template <typename T>
void copy_channels_in(const T* src, int64_t N, int64_t c_src, int64_t S, T* dst, int64_t c_dst,
                      int64_t c_offset) {
  const int64_t block = c_src * S;
#pragma omp parallel for schedule(static) if (N * block >= kParallelMinWork)
  for (int64_t n = 0; n < N; ++n)
    std::memcpy(dst + (n * c_dst + c_offset) * S, src + n * block,
                static_cast<size_t>(block) * sizeof(T));
}

template <typename T>
void copy_channels_out(const T* src, int64_t N, int64_t c_src, int64_t S, T* dst, int64_t c_dst,
                       int64_t c_offset) {
  const int64_t block = c_dst * S;
#pragma omp parallel for schedule(static) if (N * block >= kParallelMinWork)
  for (int64_t n = 0; n < N; ++n)
    std::memcpy(dst + n * block, src + (n * c_src + c_offset) * S,
                static_cast<size_t>(block) * sizeof(T));
}

#define NSAL_INSTANTIATE(T)                                                                     \
  template void add<T>(const T*, const T*, T*, int64_t);                                        \
  template void accumulate<T>(T*, const T*, int64_t);                                           \
  template void copy_channels_in<T>(const T*, int64_t, int64_t, int64_t, T*, int64_t, int64_t); \
  template void copy_channels_out<T>(const T*, int64_t, int64_t, int64_t, T*, int64_t, int64_t);
NSAL_INSTANTIATE(float)
NSAL_INSTANTIATE(double)
#undef NSAL_INSTANTIATE

}  // namespace nsal::kernels::cpu

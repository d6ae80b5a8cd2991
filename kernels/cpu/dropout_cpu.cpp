#include "kernels/cpu/dropout_cpu.h"

#include "kernels/cpu/parallel.h"
#include "kernels/dropout.h"

namespace nsal::kernels::cpu {

template <typename T>
void dropout_apply(const T* x, T* y, int64_t n, uint64_t seed, uint64_t step, uint64_t threshold,
                   T scale) {
  const int64_t groups = (n + 3) / 4;
#pragma omp parallel for schedule(static) if (n >= kParallelMinWork)
  for (int64_t g = 0; g < groups; ++g) {
    const philox::U32x4 r = dropout_group(seed, step, static_cast<uint64_t>(g));
    const int64_t i0 = 4 * g;
    const int64_t m = n - i0 < 4 ? n - i0 : 4;
    for (int64_t j = 0; j < m; ++j)
      y[i0 + j] = dropout_keep(r.v[j], threshold) ? x[i0 + j] * scale : T(0);
  }
}

template void dropout_apply<float>(const float*, float*, int64_t, uint64_t, uint64_t, uint64_t,
                                   float);
template void dropout_apply<double>(const double*, double*, int64_t, uint64_t, uint64_t, uint64_t,
                                    double);

}  // namespace nsal::kernels::cpu

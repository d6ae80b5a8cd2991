#include "kernels/cpu/dropout_cpu.h"

#include "kernels/cpu/parallel.h"
#include "kernels/dropout.h"
#include "kernels/error.h"

namespace nsal::kernels::cpu {

template <typename T>
void dropout_apply(const T* x, T* y, int64_t n, uint64_t seed, uint64_t step, uint64_t threshold,
                   T scale, int64_t rows, const int32_t* row_keys) {
  NSAL_CHECK(rows >= 1 && n % rows == 0, "dropout: {} rows do not divide {} elements", rows, n);
  const int64_t per_row = n / rows, groups_per_row = (per_row + 3) / 4;
  const int64_t groups = rows * groups_per_row;
#pragma omp parallel for schedule(static) if (n >= kParallelMinWork)
  for (int64_t g = 0; g < groups; ++g) {
    const DropoutGroup grp = dropout_row_group(seed, step, per_row, groups_per_row, g, row_keys);
    for (int j = 0; j < grp.count; ++j)
      y[grp.first + j] = dropout_keep(grp.words.v[j], threshold) ? x[grp.first + j] * scale : T(0);
  }
}

template void dropout_apply<float>(const float*, float*, int64_t, uint64_t, uint64_t, uint64_t,
                                   float, int64_t, const int32_t*);
template void dropout_apply<double>(const double*, double*, int64_t, uint64_t, uint64_t, uint64_t,
                                    double, int64_t, const int32_t*);

}  // namespace nsal::kernels::cpu

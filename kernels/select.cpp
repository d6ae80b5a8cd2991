#include "kernels/select.h"

#include <vector>

#include "kernels/error.h"
#include "kernels/select_backend.h"

namespace nsal::kernels {

int64_t top_n(const float* score, int64_t n, int64_t k, int64_t* out_idx, bool on_cuda,
              void* stream) {
  NSAL_CHECK(n >= 0 && k >= 0, "top_n: bad sizes n={} k={}", n, k);
  if (n == 0 || k == 0) return 0;
  NSAL_CHECK(score && out_idx, "top_n: null pointer");
  return on_cuda ? top_n_cuda(score, n, k, out_idx, stream) : top_n_cpu(score, n, k, out_idx);
}

size_t kcenter_workspace_bytes(int64_t n, int64_t n_init, int64_t budget) {
  // min distances, per-block argmax partials (value + index), the initial and selected
  // indices, and a few counters; rounded up generously for alignment.
  const int64_t rows_per_block = 8;
  const int64_t blocks = (n + rows_per_block - 1) / rows_per_block;
  return static_cast<size_t>(8 * n + 16 * blocks + 8 * (n_init + budget) + 256);
}

void kcenter_greedy(const float* x, int64_t n, int64_t d, const int64_t* initial, int64_t n_init,
                    int64_t budget, int64_t* out_idx, bool on_cuda, void* workspace,
                    size_t workspace_bytes, void* stream) {
  NSAL_CHECK_AS(ShapeError, n >= 0 && d >= 1, "kcenter_greedy: bad feature matrix ({}, {})", n, d);
  NSAL_CHECK(n_init >= 0 && budget >= 0, "kcenter_greedy: bad counts n_init={} budget={}", n_init,
             budget);
  NSAL_CHECK(n_init == 0 || initial, "kcenter_greedy: {} initial centres but a null list", n_init);
  std::vector<uint8_t> seen(static_cast<size_t>(n), 0);
  int64_t distinct = 0;
  for (int64_t j = 0; j < n_init; ++j) {
    NSAL_CHECK(initial[j] >= 0 && initial[j] < n,
               "kcenter_greedy: initial centre {} is row {}, outside [0, {})", j, initial[j], n);
    distinct += !seen[initial[j]];
    seen[initial[j]] = 1;
  }
  NSAL_CHECK(budget <= n - distinct,
             "kcenter_greedy: budget {} exceeds the {} rows that are not centres already", budget,
             n - distinct);
  if (budget == 0) return;
  NSAL_CHECK(x && out_idx, "kcenter_greedy: null pointer");
  if (on_cuda)
    kcenter_greedy_cuda(x, n, d, initial, n_init, budget, out_idx, workspace, workspace_bytes,
                        stream);
  else
    kcenter_greedy_cpu(x, n, d, initial, n_init, budget, out_idx);
}

#ifndef NSAL_WITH_CUDA
int64_t top_n_cuda(const float*, int64_t, int64_t, int64_t*, void*) {
  throw Error("top_n on CUDA: nsal was built without the CUDA backend");
}
void kcenter_greedy_cuda(const float*, int64_t, int64_t, const int64_t*, int64_t, int64_t, int64_t*,
                         void*, size_t, void*) {
  throw Error("kcenter_greedy on CUDA: nsal was built without the CUDA backend");
}
#endif

}  // namespace nsal::kernels

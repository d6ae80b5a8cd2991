// CPU selection: top-N with std::partial_sort, greedy k-center with OpenMP over rows. Both are
// deterministic whatever the thread count (the argmax order is total: value, then index).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/error.h"
#include "kernels/kcenter_hd.h"
#include "kernels/select_backend.h"

namespace nsal::kernels {

int64_t top_n_cpu(const float* score, int64_t n, int64_t k, int64_t* out_idx) {
  std::vector<int64_t> idx;
  idx.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    if (!std::isnan(score[i])) idx.push_back(i);
  const int64_t m = std::min<int64_t>(k, static_cast<int64_t>(idx.size()));
  std::partial_sort(idx.begin(), idx.begin() + m, idx.end(), [score](int64_t a, int64_t b) {
    return score[a] > score[b] || (score[a] == score[b] && a < b);
  });
  std::copy(idx.begin(), idx.begin() + m, out_idx);
  return m;
}

namespace {

struct Best {
  double v = -std::numeric_limits<double>::infinity();
  int64_t i = -1;
};

// One pass: min_d[i] = min(min_d[i], ||x_i - c||^2) for rows still in play (min_d >= 0), and
// the argmax of the updated vector.
Best update_and_argmax(const float* x, int64_t n, int64_t d, const float* c,
                       std::vector<double>& min_d) {
  Best best;
#pragma omp parallel if (n * d > (1 << 15))  // small problems: a team costs more than it saves
  {
    Best mine;
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      if (min_d[i] < 0) continue;
      const double dist = kc_sq_distance(x + i * d, c, d);
      if (dist < min_d[i]) min_d[i] = dist;
      if (kc_better(min_d[i], i, mine.v, mine.i)) mine = {min_d[i], i};
    }
#pragma omp critical(nsal_kcenter_argmax)
    if (mine.i >= 0 && kc_better(mine.v, mine.i, best.v, best.i)) best = mine;
  }
  return best;
}

}  // namespace

void kcenter_greedy_cpu(const float* x, int64_t n, int64_t d, const int64_t* initial,
                        int64_t n_init, int64_t budget, int64_t* out_idx) {
  std::vector<double> min_d(static_cast<size_t>(n), std::numeric_limits<double>::infinity());
  // Initial distances: to the origin, or to the nearest initial centre.
  if (n_init == 0) update_and_argmax(x, n, d, nullptr, min_d);
  for (int64_t j = 0; j < n_init; ++j)
    update_and_argmax(x, n, d, x + initial[j] * d, min_d);
  for (int64_t i = 0; i < n; ++i)
    NSAL_CHECK(std::isfinite(min_d[i]),
               "kcenter_greedy: row {} has a non-finite distance ({}): the features hold NaN or "
               "infinity",
               i, min_d[i]);
  for (int64_t j = 0; j < n_init; ++j)
    min_d[initial[j]] = -1.0;  // centres already
  Best best;
  for (int64_t i = 0; i < n; ++i)
    if (min_d[i] >= 0 && kc_better(min_d[i], i, best.v, best.i)) best = {min_d[i], i};
  for (int64_t b = 0; b < budget; ++b) {
    NSAL_CHECK(best.i >= 0, "kcenter_greedy: ran out of rows after {} selections", b);
    out_idx[b] = best.i;
    min_d[best.i] = -1.0;
    if (b + 1 < budget) best = update_and_argmax(x, n, d, x + best.i * d, min_d);
  }
}

}  // namespace nsal::kernels

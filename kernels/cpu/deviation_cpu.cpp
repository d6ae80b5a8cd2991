// CPU deviation kernels: OpenMP over samples, each sample's pixels summed in order.
#include <cmath>

#include "kernels/deviation_backend.h"
#include "kernels/deviation_row.h"

namespace nsal::kernels {

int64_t accumulate_sq_deviation_cpu(const float* clean, const float* perturbed, int64_t n,
                                    int64_t c, int64_t p, const uint8_t* valid, bool softmax,
                                    float* score) {
  int64_t bad = 0;
#pragma omp parallel for schedule(static) reduction(+ : bad) if (n * c * p > (1 << 14))
  for (int64_t s = 0; s < n; ++s) {
    const float* a = clean + s * c * p;
    const float* b = perturbed + s * c * p;
    double acc = 0.0;
    int64_t nvalid = 0;
    bool finite = true;
    for (int64_t q = 0; q < p; ++q) {
      if (valid && !valid[s * p + q]) continue;
      bool f = true;
      acc += pixel_sq_deviation(a + q, b + q, c, p, softmax, f);
      finite = finite && f;
      ++nvalid;
    }
    if (!finite) {
      score[s] = NAN;
      ++bad;
    } else if (nvalid > 0) {
      score[s] = static_cast<float>(static_cast<double>(score[s]) + acc / nvalid);
    }
  }
  return bad;
}

void finalize_mean_cpu(float* score, int64_t n, int64_t num_draws) {
#pragma omp parallel for schedule(static)
  for (int64_t s = 0; s < n; ++s)
    score[s] = static_cast<float>(static_cast<double>(score[s]) / num_draws);
}

int64_t deviation_vectors_cpu(const float* clean, const float* perturbed, int64_t n, int64_t c,
                              bool softmax, int64_t draw, int64_t num_draws, float* out,
                              float* score) {
  int64_t bad = 0;
#pragma omp parallel for schedule(static) reduction(+ : bad)
  for (int64_t s = 0; s < n; ++s) {
    double sq = 0.0;
    bool finite = true;
    bad += !deviation_vector_row(clean + s * c, perturbed + s * c, c, softmax,
                                 out + s * c * num_draws + draw * c, &sq, &finite);
    if (score) accumulate_row_score(score[s], sq, finite);
  }
  return bad;
}

}  // namespace nsal::kernels

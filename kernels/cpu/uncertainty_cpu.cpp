#include <algorithm>
#include <vector>

#include "kernels/uncertainty.h"

namespace nsal::kernels {

void uncertainty_scores(const float* probs, int64_t n, int64_t c, UncertaintyKind kind,
                        double* scores) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float* p = probs + i * c;
    switch (kind) {
      case UncertaintyKind::entropy:
        scores[i] = row_entropy(p, c);
        break;
      case UncertaintyKind::margin:
        scores[i] = row_margin_score(p, c);
        break;
      case UncertaintyKind::least_confidence:
        scores[i] = row_least_confidence(p, c);
        break;
    }
  }
}

// Mean over the T passes of row i into `mean` (C floats).
static void mean_row(const float* probs, int64_t t, int64_t n, int64_t c, int64_t i, float* mean) {
  for (int64_t j = 0; j < c; ++j) {
    double s = 0;
    for (int64_t k = 0; k < t; ++k)
      s += probs[(k * n + i) * c + j];
    mean[j] = static_cast<float>(s / static_cast<double>(t));
  }
}

void mc_entropy_of_mean(const float* probs, int64_t t, int64_t n, int64_t c, double* scores) {
#pragma omp parallel
  {
    std::vector<float> mean(static_cast<size_t>(c));
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      mean_row(probs, t, n, c, i, mean.data());
      scores[i] = row_entropy(mean.data(), c);
    }
  }
}

void mc_bald(const float* probs, int64_t t, int64_t n, int64_t c, double* scores) {
#pragma omp parallel
  {
    std::vector<float> mean(static_cast<size_t>(c));
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      mean_row(probs, t, n, c, i, mean.data());
      double expected = 0;
      for (int64_t k = 0; k < t; ++k)
        expected += row_entropy(probs + (k * n + i) * c, c);
      scores[i] = row_entropy(mean.data(), c) - expected / static_cast<double>(t);
    }
  }
}

void mc_variation_ratio(const float* probs, int64_t t, int64_t n, int64_t c, double* scores) {
#pragma omp parallel
  {
    std::vector<int64_t> votes(static_cast<size_t>(c));
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      std::fill(votes.begin(), votes.end(), 0);
      for (int64_t k = 0; k < t; ++k) {
        const float* p = probs + (k * n + i) * c;
        int64_t arg = 0;
        for (int64_t j = 1; j < c; ++j)
          if (p[j] > p[arg]) arg = j;
        ++votes[static_cast<size_t>(arg)];
      }
      int64_t mode = 0;
      for (int64_t v : votes)
        mode = v > mode ? v : mode;
      scores[i] = 1.0 - static_cast<double>(mode) / static_cast<double>(t);
    }
  }
}

void mc_output_variance(const float* outputs, int64_t t, int64_t n, int64_t d, double* scores) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    double total = 0;
    for (int64_t j = 0; j < d; ++j) {
      double mean = 0, sq = 0;
      for (int64_t k = 0; k < t; ++k)
        mean += outputs[(k * n + i) * d + j];
      mean /= static_cast<double>(t);
      for (int64_t k = 0; k < t; ++k) {
        double e = outputs[(k * n + i) * d + j] - mean;
        sq += e * e;
      }
      total += sq / static_cast<double>(t);
    }
    scores[i] = total;
  }
}

}  // namespace nsal::kernels

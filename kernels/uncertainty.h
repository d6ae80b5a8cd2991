// Per-sample uncertainty scores from class probabilities, for the classic baselines
// (entropy, margin, least confidence) and MC-dropout (entropy of the mean, variation ratio,
// BALD). Higher always means "more worth labelling". Rows are samples: probs is (N, C).
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/hd.h"

namespace nsal::kernels {

// -sum p log p (natural log; 0 log 0 = 0).
NSAL_HD double row_entropy(const float* p, int64_t c) {
  double h = 0;
  for (int64_t j = 0; j < c; ++j)
    if (p[j] > 0) h -= static_cast<double>(p[j]) * std::log(static_cast<double>(p[j]));
  return h;
}

// Negative gap between the two largest probabilities (so a small margin scores high).
NSAL_HD double row_margin_score(const float* p, int64_t c) {
  float best = -1, second = -1;
  for (int64_t j = 0; j < c; ++j) {
    if (p[j] > best) {
      second = best;
      best = p[j];
    } else if (p[j] > second) {
      second = p[j];
    }
  }
  return -(static_cast<double>(best) - static_cast<double>(c > 1 ? second : 0.0f));
}

// 1 - max p.
NSAL_HD double row_least_confidence(const float* p, int64_t c) {
  float best = 0;
  for (int64_t j = 0; j < c; ++j)
    best = p[j] > best ? p[j] : best;
  return 1.0 - best;
}

enum class UncertaintyKind { entropy, margin, least_confidence };

// scores[i] for each row of probs (N, C); CPU, OpenMP over rows.
void uncertainty_scores(const float* probs, int64_t n, int64_t c, UncertaintyKind kind,
                        double* scores);

// MC-dropout over T passes: probs (T, N, C).
//   entropy of the mean prediction, BALD = H(mean) - mean_t H(p_t), and the variation ratio
//   1 - (count of the modal argmax) / T.
void mc_entropy_of_mean(const float* probs, int64_t t, int64_t n, int64_t c, double* scores);
void mc_bald(const float* probs, int64_t t, int64_t n, int64_t c, double* scores);
void mc_variation_ratio(const float* probs, int64_t t, int64_t n, int64_t c, double* scores);
// Regression MC-dropout: variance over T passes of the outputs (T, N, D), summed over D.
void mc_output_variance(const float* outputs, int64_t t, int64_t n, int64_t d, double* scores);

}  // namespace nsal::kernels

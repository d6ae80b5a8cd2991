// Shared by the deviation tests (test_deviation.cpp, test_cuda_deviation.cpp): clean outputs
// and slightly perturbed ones.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace nsal::testing {

struct Outputs {
  std::vector<float> clean, pert;
};

inline Outputs random_outputs(int64_t n, int64_t c, int64_t p, float scale, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  Outputs o;
  for (int64_t i = 0; i < n * c * p; ++i) {
    float v = nd(rng) * scale;
    o.clean.push_back(v);
    o.pert.push_back(v + 1e-2f * nd(rng));
  }
  return o;
}

}  // namespace nsal::testing

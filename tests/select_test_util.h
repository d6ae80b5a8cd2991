// Shared by the selection tests (test_select.cpp, test_cuda_select.cpp): the CPU top-N and
// k-center as one-line calls, and clustered random features.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "kernels/select.h"

namespace nsal::testing {

// The CPU top-N of s (ties to the lower index, NaN never chosen), as many as it returns.
inline std::vector<int64_t> top(const std::vector<float>& s, int64_t k) {
  std::vector<int64_t> out(k, -7);
  int64_t m = kernels::top_n(s.data(), s.size(), k, out.data());
  out.resize(m);
  return out;
}

// (n, d) features in clusters of different spread.
inline std::vector<float> random_features(int64_t n, int64_t d, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(n * d);
  for (int64_t i = 0; i < n; ++i) {
    float scale = 0.1f + (i % 7) * 0.3f;  // clusters of different spread
    for (int64_t j = 0; j < d; ++j)
      x[i * d + j] = nd(rng) * scale + (i % 3);
  }
  return x;
}

// The CPU greedy k-center from `init` (or from the origin when empty).
inline std::vector<int64_t> kcenter(const std::vector<float>& x, int64_t n, int64_t d,
                                    const std::vector<int64_t>& init, int64_t budget) {
  std::vector<int64_t> out(budget, -1);
  kernels::kcenter_greedy(x.data(), n, d, init.data(), init.size(), budget, out.data());
  return out;
}

}  // namespace nsal::testing

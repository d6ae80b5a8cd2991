// Uniform random floats from a seed, for tests that need plain host data (CPU and GPU alike).
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace nsal::testing {

inline std::vector<float> random_floats(size_t n, uint64_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto& e : v)
    e = u(rng);
  return v;
}

}  // namespace nsal::testing

// Seeded random numbers for data work (splits, shuffles, augmentation, synthetic sets), built on
// Philox4x32-10: stream s of seed k is the same on every platform, compiler and thread count
// (std::shuffle and std::*_distribution are not).
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/philox.h"

namespace nsal::data {

class Rng {
 public:
  Rng(uint64_t seed, uint64_t stream) : key_(philox::make_key(seed)), stream_(stream) {}

  uint32_t next_u32() {
    if (pos_ == 4) {
      block_ = philox::philox4x32_10(philox::make_counter(counter_++, stream_), key_);
      pos_ = 0;
    }
    return block_.v[pos_++];
  }
  // Uniform in [0, 1).
  double uniform() {
    uint64_t hi = next_u32(), lo = next_u32();
    return static_cast<double>(((hi << 32) | lo) >> 11) * (1.0 / 9007199254740992.0);
  }
  // Uniform in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Uniform integer in [0, n), without modulo bias.
  uint64_t below(uint64_t n) {
    if (n <= 1) return 0;
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    for (;;) {
      uint64_t v = (static_cast<uint64_t>(next_u32()) << 32) | next_u32();
      if (v < limit) return v % n;
    }
  }
  // Standard normal (Box-Muller).
  double normal() {
    double u1 = 1.0 - uniform();  // (0, 1]
    double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  philox::Key key_;
  uint64_t stream_;
  uint64_t counter_ = 0;
  philox::U32x4 block_{};
  int pos_ = 4;
};

// Fisher-Yates with Rng: the same permutation everywhere for the same (seed, stream).
template <typename T>
void shuffle(std::vector<T>& v, Rng& rng) {
  for (size_t i = v.size(); i > 1; --i)
    std::swap(v[i - 1], v[rng.below(i)]);
}

}  // namespace nsal::data

// Seeds of a run, derived from the run's seed by a fixed mixing function so that every random
// choice has its own stream: the initial labelled set of a trial, a cycle's model
// initialisation, training shuffles, the unlabelled subset and the acquisition. Strategies of a
// trial share the initial set and the model seeds, so their comparison is paired.
#pragma once

#include <cstdint>
#include <vector>

namespace nsal::al {

// SplitMix64's finaliser: a bijective mix of 64 bits.
inline uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

enum class SeedUse : uint64_t { initial_set = 1, model_init, training, subset, acquisition };

inline uint64_t derive_seed(uint64_t run_seed, int trial, int cycle, SeedUse use) {
  uint64_t s = mix64(run_seed);
  s = mix64(s ^ static_cast<uint64_t>(trial));
  s = mix64(s ^ (static_cast<uint64_t>(cycle) << 20));
  return mix64(s ^ (static_cast<uint64_t>(use) << 40));
}

// A seeded permutation of `items` (Fisher-Yates on the Philox stream): the same on every machine.
std::vector<int64_t> seeded_shuffle(std::vector<int64_t> items, uint64_t seed);

}  // namespace nsal::al

// Arenas for the noise perturbation tests: realistic layouts (ResNet-like tensor sizes, padded
// to 64 elements like nn/param_arena.h) and adversarial values for the exact restore.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "kernels/noise.h"
#include "kernels/noise_layout.h"

namespace nsal::testing {

struct TestArena {
  std::vector<float> w;  // (arena_numel,), padding zero
  std::vector<kernels::NoiseSegment> segments;
};

inline int64_t align64(int64_t n) {
  return (n + 63) / 64 * 64;
}

// Lays out tensors of the given sizes with 64-element alignment.
inline TestArena layout_arena(const std::vector<int64_t>& sizes) {
  TestArena a;
  int64_t off = 0;
  for (int64_t n : sizes) {
    a.segments.push_back({off, n});
    off = align64(off + n);
  }
  a.w.assign(static_cast<size_t>(off), 0.0f);
  return a;
}

// A small CNN: conv weights ~ N(0, 2 / fan_in), BN gamma ~ 1, BN beta and biases small.
inline TestArena realistic_arena(uint32_t seed) {
  std::vector<int64_t> sizes = {3 * 3 * 3 * 16, 16, 16};  // conv1, bn1 gamma, beta
  for (int c : {16, 32, 64}) {
    sizes.insert(sizes.end(), {c * c * 9, c, c, c * c * 9, c, c});
    if (c < 64) sizes.insert(sizes.end(), {2 * c * c, 2 * c, 2 * c});
  }
  sizes.insert(sizes.end(), {64 * 10, 10});  // fc weight, bias
  TestArena a = layout_arena(sizes);
  std::mt19937 rng(seed);
  for (size_t s = 0; s < a.segments.size(); ++s) {
    const auto& g = a.segments[s];
    float sd = g.numel > 128 ? std::sqrt(2.0f / (g.numel / 16.0f)) : 0.05f;
    std::normal_distribution<float> nd(g.numel <= 64 && s % 3 == 1 ? 1.0f : 0.0f, sd);
    for (int64_t i = 0; i < g.numel; ++i)
      a.w[g.offset + i] = nd(rng);
  }
  return a;
}

// Values that break (w + d) - d == w: tiny and subnormal weights, exact zeros of both signs,
// values just below a power of two (w + d crosses a binade), ties, huge and mixed magnitudes,
// and (with_non_finite) infinities and NaNs with payloads. Segment sizes are not multiples of 4 and
// some segments touch without padding, so groups of four straddle segment boundaries.
inline TestArena adversarial_arena(uint32_t seed, bool with_non_finite) {
  TestArena a;
  const std::vector<int64_t> sizes = {1, 3, 4099, 7, 64, 12001, 5, 20000, 2, 8191};
  int64_t off = 3;  // not even aligned to a group
  for (size_t s = 0; s < sizes.size(); ++s) {
    a.segments.push_back({off, sizes[s]});
    off += sizes[s] + (s % 3 == 0 ? 0 : 61);  // some segments touch
  }
  a.w.assign(static_cast<size_t>(off + 17), 0.0f);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> kind(0, 11);
  std::normal_distribution<float> nd(0.0f, 0.1f);
  auto from_bits = [](uint32_t b) { return kernels::fp::from_bits(b); };
  for (const auto& g : a.segments) {
    for (int64_t i = 0; i < g.numel; ++i) {
      float& x = a.w[g.offset + i];
      int exp_shift = static_cast<int>(rng() % 20);
      switch (kind(rng)) {
        case 0:
          x = 0.0f;
          break;
        case 1:
          x = -0.0f;
          break;
        case 2:
          x = from_bits(1u + rng() % 0x7fffffu) * (rng() % 2 ? 1 : -1);
          break;  // subnormal
        case 3:
          x = std::ldexp(1.0f + (rng() % 100) * 1e-3f, -120 - exp_shift);
          break;  // tiny
        case 4:
          x = std::nextafter(std::ldexp(1.0f, -exp_shift), 0.0f);
          break;  // below 2^-k
        case 5:
          x = -std::ldexp(1.0f, -exp_shift);
          break;  // a power of two
        case 6:
          x = std::ldexp(1.0f, 20 + exp_shift) * (rng() % 2 ? 1 : -1);
          break;  // huge
        case 7:
          x = nd(rng) * 1e-6f;
          break;
        case 8:
          x = static_cast<float>(rng() % 1000) * 0.25f;
          break;  // few mantissa bits
        case 9:
          x = nd(rng) * 1e3f;
          break;
        case 10:
          x = with_non_finite && rng() % 50 == 0 ? std::numeric_limits<float>::infinity() : nd(rng);
          break;
        default:
          x = with_non_finite && rng() % 50 == 0 ? from_bits(0x7fc00000u | (rng() & 0x3fffffu))
                                                 : nd(rng);
      }
    }
  }
  // Padding between segments holds values that must never change.
  for (size_t i = 0; i < a.w.size(); ++i) {
    bool inside = false;
    for (const auto& g : a.segments)
      inside |= (int64_t)i >= g.offset && (int64_t)i < g.offset + g.numel;
    if (!inside) a.w[i] = from_bits(0x7f800001u + static_cast<uint32_t>(i % 7));  // signalling NaNs
  }
  return a;
}

}  // namespace nsal::testing

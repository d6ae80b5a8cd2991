// Dropout masks from Philox4x32-10 (kernels/philox.h), identical on the CPU and the GPU:
// element i of the mask at step s depends only on (seed, s, i). One Philox call gives four
// words; element i uses word i % 4 of the call with key = seed and counter = (i / 4, s).
// An element is dropped when its word is below p * 2^32, so the keep probability is exact to
// 2^-32 and the decision is an integer comparison with no rounding differences between devices.
//
// A tensor may also be masked as `rows` rows of n / rows elements, row r with step + key(r) and
// its elements counted from 0 (rows = 1 is the whole tensor at `step`), key(r) = r or, given
// row keys, row_keys[r]. MC dropout at inference uses this with one row per sample at
// mc_dropout_step(pass, 0) keyed by each sample's dataset index (or, for inputs without one,
// mc_dropout_step(pass, position of the batch's first sample) and key(r) = r), so that a
// sample's mask depends neither on the batch it is in nor on the other samples of the pool.
#pragma once

#include <cstdint>

#include "kernels/hd.h"
#include "kernels/philox.h"

namespace nsal::kernels {

// Drop threshold for probability p in [0, 1]; 2^32 drops everything.
NSAL_HD uint64_t dropout_threshold(double p) {
  if (p <= 0.0) return 0;
  if (p >= 1.0) return 1ull << 32;
  return static_cast<uint64_t>(p * 4294967296.0);
}

// The four words of mask group g (elements 4g .. 4g + 3) at `step`.
NSAL_HD philox::U32x4 dropout_group(uint64_t seed, uint64_t step, uint64_t group) {
  return philox::philox4x32_10(philox::make_counter(group, step), philox::make_key(seed));
}

NSAL_HD bool dropout_keep(uint32_t word, uint64_t threshold) {
  return static_cast<uint64_t>(word) >= threshold;
}

// The step of the sample with key `position` (its dataset index, or its position in the pool)
// in MC-dropout pass `pass`: the top bit set (training steps count up from 0 and never reach
// it), the pass in bits 40-62, the key in bits 0-39.
constexpr uint64_t kMcDropoutMaxPasses = uint64_t{1} << 23;
constexpr uint64_t kMcDropoutMaxPositions = uint64_t{1} << 40;
NSAL_HD uint64_t mc_dropout_step(uint64_t pass, uint64_t position) {
  return (uint64_t{1} << 63) | (pass << 40) | position;
}

// Mask group g of a tensor masked as rows of `per_row` elements (groups_per_row = ceil(per_row /
// 4)): its first element, how many of the four words it uses, and its Philox words.
struct DropoutGroup {
  int64_t first;
  int count;
  philox::U32x4 words;
};
// row_keys: null (row r at step + r) or one non-negative key per row (row r at step +
// row_keys[r]).
NSAL_HD DropoutGroup dropout_row_group(uint64_t seed, uint64_t step, int64_t per_row,
                                       int64_t groups_per_row, int64_t g,
                                       const int32_t* row_keys = nullptr) {
  const int64_t r = g / groups_per_row, q = g - r * groups_per_row;
  const int64_t left = per_row - 4 * q;
  const uint64_t key = row_keys ? static_cast<uint64_t>(row_keys[r]) : static_cast<uint64_t>(r);
  return {r * per_row + 4 * q, left < 4 ? static_cast<int>(left) : 4,
          dropout_group(seed, step + key, static_cast<uint64_t>(q))};
}

// The seed of dropout layer `layer` (its place among a model's dropout layers) of a model built
// with `seed`: two words of Philox4x32-10 with key = seed and counter (layer, "drop"), so that
// the layers of a model, and models built with other seeds, draw other masks.
inline uint64_t dropout_layer_seed(uint64_t seed, uint64_t layer) {
  const philox::U32x4 r =
      philox::philox4x32_10(philox::make_counter(layer, 0x64726f70), philox::make_key(seed));
  return uint64_t{r.v[0]} | (uint64_t{r.v[1]} << 32);
}

// Whether element i is kept (one Philox call; loops should use dropout_group per 4 elements).
NSAL_HD bool dropout_keep_element(uint64_t seed, uint64_t step, uint64_t i, uint64_t threshold) {
  return dropout_keep(dropout_group(seed, step, i >> 2).v[i & 3], threshold);
}

}  // namespace nsal::kernels

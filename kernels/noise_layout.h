// How the noise kernels cut an arena into work, identically on the CPU and the GPU.
//
// The arena is cut into tiles of kNoiseTile = 4096 elements (tile t = [4096 t, 4096 t + 4096)).
// A tile is one CUDA block of 256 threads and one unit of the CPU loop. Inside a tile, thread
// ("lane") l owns the four groups l, l + 256, l + 512, l + 768 (16 elements); this canonical
// order fixes the order of every reduction and of the exception log, so the CPU, which
// replays it, and the GPU get the same bits. A piece is the part of one segment inside one
// tile; sums of squares are computed per piece (lanes, then a fixed tree over the 256 lanes),
// then per segment (fixed pairwise tree over its pieces), then over segments (same tree), in
// double, so nothing depends on thread counts or atomics.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/hd.h"

namespace nsal::kernels {

constexpr int64_t kNoiseTile = 4096;    // elements per tile
constexpr int kNoiseLanes = 256;        // threads per tile
constexpr int kNoiseGroupsPerLane = 4;  // groups of 4 elements per lane

// A run of arena elements that receives noise with one scale (a parameter tensor).
struct NoiseSegment {
  int64_t offset = 0;  // first element in the arena
  int64_t numel = 0;
};

// One segment's elements inside one tile: [begin, end).
struct NoisePiece {
  int64_t begin = 0, end = 0;
  int32_t segment = 0;
  int32_t tile = 0;  // arena tile index
};

// The work decomposition for a segment table over an arena of `arena_numel` elements.
struct NoiseLayout {
  int64_t arena_numel = 0;
  std::vector<NoiseSegment> segments;   // as given (sorted, disjoint, non-empty allowed)
  std::vector<NoisePiece> pieces;       // sorted by begin; a segment's pieces are consecutive
  std::vector<int32_t> segment_pieces;  // (num_segments + 1): pieces of s are [sp[s], sp[s+1])
  std::vector<int32_t> tiles;           // tiles holding at least one piece, ascending
  std::vector<int32_t> tile_pieces;     // (tiles + 1): pieces of tiles[t] are [tp[t], tp[t+1])
  int64_t selected_numel = 0;           // elements in all segments

  int num_segments() const { return static_cast<int>(segments.size()); }
  int num_tiles() const { return static_cast<int>(tiles.size()); }
};

// Validates the table (offsets >= 0, inside the arena, sorted, disjoint) and builds the
// layout. Throws nsal::Error naming the offending segment and ranges.
NoiseLayout make_noise_layout(const NoiseSegment* segments, int num_segments, int64_t arena_numel);

// Position of arena element `index` in the canonical order of its tile: lane and its slot
// (j * 4 + e) among the lane's 16 elements.
NSAL_HD int noise_lane_of(int64_t index) {
  return static_cast<int>(((index % kNoiseTile) / 4) % kNoiseLanes);
}
NSAL_HD int noise_canonical_rank(int64_t index) {
  int64_t rel = index % kNoiseTile;
  int64_t g = rel / 4;
  int64_t lane = g % kNoiseLanes, j = g / kNoiseLanes, e = rel % 4;
  return static_cast<int>(lane * 16 + j * 4 + e);
}

// A NaN sum of squares as the one NaN 0x7ff8000000000000: x86 keeps an operand's NaN payload
// through conversions and additions (and which operand depends on the compiler's operand order)
// where the GPU makes its own, so without it the backends would report different bits for a
// segment holding NaN weights. Applied to every piece partial and segment total.
NSAL_HD double canonical_nan(double x) {
  if (x == x) return x;
#ifdef __CUDA_ARCH__
  return __longlong_as_double(0x7ff8000000000000ll);
#else
  return std::numeric_limits<double>::quiet_NaN();
#endif
}

// Fixed tree over the 256 lane partials of a piece (stride halving: lane l += lane l + s for
// s = 128, 64, ..., 1). Overwrites `lanes`; the CUDA kernel does the same in shared memory.
NSAL_HD double lane_tree_sum(double* lanes) {
  for (int s = kNoiseLanes / 2; s >= 1; s /= 2)
    for (int l = 0; l < s; ++l)
      lanes[l] = lanes[l] + lanes[l + s];
  return lanes[0];
}

// Fixed pairwise tree over n values (x[i] = x[2i] + x[2i+1] level by level, an odd last value
// carried up). Overwrites x; returns the sum (0 for n == 0).
NSAL_HD double pairwise_tree_sum(double* x, int64_t n) {
  if (n == 0) return 0.0;
  while (n > 1) {
    int64_t half = n / 2;
    for (int64_t i = 0; i < half; ++i)
      x[i] = x[2 * i] + x[2 * i + 1];
    if (n % 2) x[half] = x[n - 1];
    n = half + n % 2;
  }
  return x[0];
}

// How the noise of each segment is scaled (DESIGN section 3).
enum class NoiseScaling : uint8_t {
  global_relative,   // `paper`: one xi = lambda ||theta|| / ||dtheta|| over all segments
  segment_relative,  // `released`: per segment, ||noise_s|| = lambda ||w_s||
  constant,          // scale = lambda everywhere (noise std = lambda for gaussian)
};

// Scale of segment s from the sums of squares, in double (IEEE sqrt, mul, div: the same bits
// on the host and the device), rounded once to float. A zero norm gives scale 0.
NSAL_HD double relative_scale(double lambda, double w_sumsq, double z_sumsq) {
  if (!(z_sumsq > 0.0) || !(w_sumsq > 0.0)) return 0.0;
#ifdef __CUDA_ARCH__
  return __ddiv_rn(__dmul_rn(lambda, __dsqrt_rn(w_sumsq)), __dsqrt_rn(z_sumsq));
#else
  return lambda * std::sqrt(w_sumsq) / std::sqrt(z_sumsq);
#endif
}

NSAL_HD float double_to_float_rn(double x) {
#ifdef __CUDA_ARCH__
  return __double2float_rn(x);
#else
  return static_cast<float>(x);
#endif
}

// The per-segment scales of one draw from the per-segment sums of squares of the clean weights
// (w_sumsq) and of the unscaled noise (z_sumsq). `scratch` holds 2 * num_segments doubles.
NSAL_HD void compute_noise_scales(NoiseScaling mode, double lambda, const double* w_sumsq,
                                  const double* z_sumsq, int num_segments, double* scratch,
                                  float* scales) {
  if (mode == NoiseScaling::constant) {
    for (int s = 0; s < num_segments; ++s)
      scales[s] = double_to_float_rn(lambda);
  } else if (mode == NoiseScaling::segment_relative) {
    for (int s = 0; s < num_segments; ++s)
      scales[s] = double_to_float_rn(relative_scale(lambda, w_sumsq[s], z_sumsq[s]));
  } else {
    double* w = scratch;
    double* z = scratch + num_segments;
    for (int s = 0; s < num_segments; ++s) {
      w[s] = w_sumsq[s];
      z[s] = z_sumsq[s];
    }
    float xi = double_to_float_rn(relative_scale(lambda, pairwise_tree_sum(w, num_segments),
                                                 pairwise_tree_sum(z, num_segments)));
    for (int s = 0; s < num_segments; ++s)
      scales[s] = xi;
  }
}

const char* noise_scaling_name(NoiseScaling s);
// "global" (paper), "segment" (released), "constant"; throws naming the valid choices.
NoiseScaling parse_noise_scaling(const char* name);

}  // namespace nsal::kernels

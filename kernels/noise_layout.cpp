#include "kernels/noise_layout.h"

#include <algorithm>
#include <cstring>

#include "kernels/error.h"
#include "kernels/noise.h"

namespace nsal::kernels {

NoiseLayout make_noise_layout(const NoiseSegment* segments, int num_segments, int64_t arena_numel) {
  NSAL_CHECK(arena_numel >= 0, "noise layout: arena size {} is negative", arena_numel);
  NSAL_CHECK(num_segments >= 0, "noise layout: {} segments", num_segments);
  NSAL_CHECK(num_segments == 0 || segments != nullptr,
             "noise layout: {} segments but no segment table", num_segments);
  // Tiles index the arena with int32 and the log stores positions inside a tile.
  NSAL_CHECK(arena_numel / kNoiseTile < (int64_t{1} << 31),
             "noise layout: arena of {} elements is too large", arena_numel);
  NoiseLayout L;
  L.arena_numel = arena_numel;
  L.segments.assign(segments, segments + num_segments);
  L.segment_pieces.assign(1, 0);
  int64_t prev_end = 0;
  for (int s = 0; s < num_segments; ++s) {
    const NoiseSegment& g = segments[s];
    NSAL_CHECK(g.offset >= 0 && g.numel >= 0 && g.offset + g.numel <= arena_numel,
               "noise layout: segment {} [{}, {}) lies outside the arena of {} elements", s,
               g.offset, g.offset + g.numel, arena_numel);
    NSAL_CHECK(g.offset >= prev_end,
               "noise layout: segment {} starts at {} inside or before the previous segment "
               "(which ends at {}); segments must be sorted and disjoint",
               s, g.offset, prev_end);
    if (g.numel > 0) prev_end = g.offset + g.numel;
    for (int64_t b = g.offset; b < g.offset + g.numel;) {
      int64_t tile = b / kNoiseTile;
      int64_t e = std::min(g.offset + g.numel, (tile + 1) * kNoiseTile);
      L.pieces.push_back({b, e, s, static_cast<int32_t>(tile)});
      b = e;
    }
    L.segment_pieces.push_back(static_cast<int32_t>(L.pieces.size()));
    L.selected_numel += g.numel;
  }
  L.tile_pieces.assign(1, 0);
  for (size_t p = 0; p < L.pieces.size(); ++p) {
    if (p == 0 || L.pieces[p].tile != L.pieces[p - 1].tile) {
      if (p > 0) L.tile_pieces.push_back(static_cast<int32_t>(p));
      L.tiles.push_back(L.pieces[p].tile);
    }
  }
  if (!L.pieces.empty()) L.tile_pieces.push_back(static_cast<int32_t>(L.pieces.size()));
  return L;
}

const char* noise_scaling_name(NoiseScaling s) {
  switch (s) {
    case NoiseScaling::global_relative:
      return "global";
    case NoiseScaling::segment_relative:
      return "segment";
    case NoiseScaling::constant:
      return "constant";
  }
  return "?";
}

NoiseScaling parse_noise_scaling(const char* name) {
  for (NoiseScaling s :
       {NoiseScaling::global_relative, NoiseScaling::segment_relative, NoiseScaling::constant})
    if (std::strcmp(name, noise_scaling_name(s)) == 0) return s;
  throw Error(fmt::format("unknown noise scaling '{}' (choose global, segment or constant)", name));
}

const char* noise_dist_name(NoiseDist d) {
  switch (d) {
    case NoiseDist::gaussian:
      return "gaussian";
    case NoiseDist::uniform:
      return "uniform";
    case NoiseDist::laplace:
      return "laplace";
  }
  return "?";
}

NoiseDist parse_noise_dist(const char* name) {
  for (NoiseDist d : {NoiseDist::gaussian, NoiseDist::uniform, NoiseDist::laplace})
    if (std::strcmp(name, noise_dist_name(d)) == 0) return d;
  throw Error(
      fmt::format("unknown noise distribution '{}' (choose gaussian, uniform or laplace)", name));
}

}  // namespace nsal::kernels

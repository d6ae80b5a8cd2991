// How the CPU convolution paths (conv_cpu.cpp, conv_winograd.cpp) keep their results independent
// of the thread count. A batch is cut into chunks by the shape alone (so every GEMM call is the
// same whatever the thread count), and a sum over the chunks (the filter gradient) is kept in a
// fixed number of lanes: runs of consecutive chunks, each summed into its own copy in chunk
// order, the copies then added in lane order. Threads only decide who computes which lane.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace nsal::kernels::cpu {

// Chunks a batch is cut into at least, when the samples allow (several samples per GEMM when
// outputs are small), so that up to this many threads share them out evenly.
constexpr int64_t kMinChunks = 8;
// Lanes of a sum over chunks at most, and the bytes all their copies may take together.
constexpr int64_t kMaxLanes = 16;
constexpr size_t kMaxLaneBytes = size_t{16} << 20;

// Lanes for a sum over `chunks` chunks whose copy takes `copy_bytes`, `free_copies` of the copies
// being needed anyway (the result itself).
inline int64_t lane_count(int64_t chunks, size_t copy_bytes, int64_t free_copies) {
  const int64_t affordable =
      free_copies + static_cast<int64_t>(kMaxLaneBytes / std::max<size_t>(copy_bytes, 1));
  return std::max<int64_t>(1, std::min({kMaxLanes, affordable, chunks}));
}

// Items [begin, end) of part `part` when `count` items are cut into `parts` runs of consecutive
// items, as even as can be (none empty when parts <= count): the chunks of a lane, or of a
// thread of a team.
inline void part_range(int64_t count, int64_t parts, int64_t part, int64_t& begin, int64_t& end) {
  begin = count * part / parts;
  end = count * (part + 1) / parts;
}

// sum[e] = sum[e] + lane(1)[e] + ... + lane(lanes - 1)[e], in that order, for e in [0, n). A
// worksharing loop: call it from every thread of a parallel region (or outside one).
template <typename T, typename Lane>
void add_lanes_in_order(T* sum, int64_t n, int64_t lanes, Lane lane) {
#pragma omp for simd schedule(static)
  for (int64_t e = 0; e < n; ++e) {
    T acc = sum[e];
    for (int64_t l = 1; l < lanes; ++l)
      acc += lane(l)[e];
    sum[e] = acc;
  }
}

}  // namespace nsal::kernels::cpu

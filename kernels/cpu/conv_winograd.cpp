#include "kernels/cpu/conv_winograd.h"

#include <omp.h>

#include <algorithm>
#include <cstring>

#include "kernels/cpu/blas_gemm.h"
#include "kernels/cpu/conv_lanes.h"
#include "kernels/cpu/scratch_layout.h"
#include "kernels/cpu/winograd_phases.h"
#include "kernels/cpu/winograd_tiles.h"
#include "kernels/error.h"

namespace nsal::kernels::cpu {
namespace {

// Transformed space: 4x4 = 16 points (xi = 4 a + b), each a (rows, columns) matrix.
constexpr int64_t kPoints = 16;
// GEMM columns (tiles) per chunk: several samples side by side when a plane has fewer tiles.
// The transformed blocks of one thread (16 x channels x columns each) should stay near the L2
// cache: at ResNet-18-CIFAR shapes, batch 128, 2 threads, 64 and 128 were best (1.3-1.75x
// im2col per pass); 512 and 1024 lost up to a third of that on the 8x8 and 4x4 planes.
constexpr int64_t kTargetTiles = 128;
// Volumes: elements of one thread's transformed input block (16 x slices x channels x
// columns), which sets how many output slices a chunk covers; every chunk transforms kd - 1 input
// slices more than its output slices.
constexpr int64_t kMaxVolumeBlock = int64_t{1} << 21;

// A chunk is a block of samples [s0, s0 + m) and, in a volume, a band of output depth slices
// [d0, d1). A filter of depth kd over slices z = d - pd .. d - pd + kd - 1 makes each output slice
// ONE product over kd x channels rows: the transformed input keeps its rows (slice, channel)
// slice after slice, so the kd slices an output slice reads are kd x channels consecutive rows.
// A 2D convolution is the case of one slice, kd = 1.
struct Plan {
  int threads = 1;          // team of the chunk loop, up to one thread per chunk
  winograd::TileGrid grid;  // of a plane (input and output alike)
  int64_t tiles = 0;        // per plane
  int64_t depth = 1;        // slices per sample (1 in 2D)
  int64_t kd = 1, pd = 0;   // filter depth and depth padding (3 and 1, or 1 and 0)
  int64_t nb = 1;           // samples per chunk
  int64_t band = 1;         // output slices per chunk
  int64_t bands = 1, chunks = 0;
  int64_t cols = 0;       // nb * tiles: the GEMMs' width
  int64_t in_slices = 1;  // band + kd - 1
  int64_t v_elems = 0;    // per thread: transformed input (16, in_slices x max(C, K), cols)
  int64_t m_elems = 0;    // per thread: one output slice's products (16, max(C, K), cols)
  int64_t row_elems = 0;  // per thread: scratch of the plain tile transforms
  int64_t u_elems = 0;    // shared: transformed filter (16, K, kd x C) or (16, C, kd x K)
  size_t thread_bytes = 0, total_bytes = 0;

  // Chunk c: samples [s0, s0 + m), output slices [d0, d1).
  void chunk(int64_t c, int64_t n, int64_t& s0, int64_t& m, int64_t& d0, int64_t& d1) const {
    s0 = c / bands * nb;
    m = std::min(nb, n - s0);
    d0 = c % bands * band;
    d1 = std::min(depth, d0 + band);
  }
};

Plan make_plan(const ConvShape& s, size_t elem, int threads) {
  Plan p;
  if (threads <= 0) threads = omp_get_max_threads();
  p.grid.h = s.in[1];
  p.grid.w = s.in[2];
  p.grid.th = ceil_div(p.grid.h, 2);
  p.grid.tw = ceil_div(p.grid.w, 2);
  p.tiles = p.grid.tiles();
  p.depth = s.in[0];
  p.kd = s.kernel[0];
  p.pd = s.pad[0];
  const int64_t cmax = std::max(s.c, s.k);
  const int64_t want = std::max<int64_t>(1, kTargetTiles / p.tiles);
  // Chunks and bands depend on the shape alone (see conv_cpu.cpp's Plan); threads share them out.
  if (p.depth == 1) {
    // Planes: chunks are blocks of (nearly) the same number of samples, at least kMinChunks of
    // them when the batch allows.
    const int64_t nb = std::min(want, ceil_div(s.n, kMinChunks));
    p.nb = ceil_div(s.n, ceil_div(s.n, nb));
  } else {
    p.nb = std::min(s.n, want);
    const int64_t per_slice = kPoints * cmax * p.nb * p.tiles;
    p.band = std::clamp<int64_t>(kMaxVolumeBlock / per_slice - (p.kd - 1), 1, p.depth);
    p.bands = ceil_div(p.depth, p.band);
  }
  p.chunks = ceil_div(s.n, p.nb) * p.bands;
  p.threads = threads > 1 && p.chunks > 1 && worth_threads(s)
                  ? static_cast<int>(std::min<int64_t>(threads, p.chunks))
                  : 1;
  p.cols = p.nb * p.tiles;
  p.in_slices = p.band + p.kd - 1;
  p.v_elems = kPoints * p.in_slices * cmax * p.cols;
  p.m_elems = kPoints * cmax * p.cols;
  p.row_elems = p.grid.scratch_elems();
  p.u_elems = kPoints * s.c * s.k * p.kd;
  p.thread_bytes = align_up(static_cast<size_t>(p.v_elems) * elem) +
                   align_up(static_cast<size_t>(p.m_elems) * elem) +
                   align_up(static_cast<size_t>(p.row_elems) * elem);
  p.total_bytes = align_up(static_cast<size_t>(p.u_elems) * elem) +
                  p.thread_bytes * static_cast<size_t>(p.threads);
  return p;
}

template <typename T>
struct Scratch {
  T* v;    // (16, in_slices x channels, cols)
  T* m;    // (16, channels, cols)
  T* row;  // scratch of the plain tile transforms
};

template <typename T>
T* shared_u(void* ws) {
  return static_cast<T*>(ws);
}

// Thread t's scratch among the per-thread blocks that start at `blocks`.
template <typename T>
Scratch<T> scratch_of(const Plan& p, void* blocks, int t) {
  char* base = static_cast<char*>(blocks) + p.thread_bytes * static_cast<size_t>(t);
  const size_t v = align_up(static_cast<size_t>(p.v_elems) * sizeof(T));
  const size_t m = align_up(static_cast<size_t>(p.m_elems) * sizeof(T));
  return {reinterpret_cast<T*>(base), reinterpret_cast<T*>(base + v),
          reinterpret_cast<T*>(base + v + m)};
}

// The forward and input-gradient layout: the shared transformed filter, then the threads' blocks.
template <typename T>
Scratch<T> thread_scratch(const Plan& p, void* ws, int t) {
  return scratch_of<T>(
      p, static_cast<char*>(ws) + align_up(static_cast<size_t>(p.u_elems) * sizeof(T)), t);
}

// U = G g G^T of one 3x3 filter g (row-major), written to u[xi * stride]. `flip` reads g rotated
// by 180 degrees (the input gradient's filter).
template <typename T>
void filter_transform(const T* g, bool flip, T* u, int64_t stride) {
  T f[9];
  for (int i = 0; i < 9; ++i)
    f[i] = flip ? g[8 - i] : g[i];
  const T half = T(0.5);
  T t[4][3];  // G g
  for (int j = 0; j < 3; ++j) {
    t[0][j] = f[j];
    t[1][j] = half * (f[j] + f[3 + j] + f[6 + j]);
    t[2][j] = half * (f[j] - f[3 + j] + f[6 + j]);
    t[3][j] = f[6 + j];
  }
  for (int i = 0; i < 4; ++i) {  // (G g) G^T
    u[(4 * i + 0) * stride] = t[i][0];
    u[(4 * i + 1) * stride] = half * (t[i][0] + t[i][1] + t[i][2]);
    u[(4 * i + 2) * stride] = half * (t[i][0] - t[i][1] + t[i][2]);
    u[(4 * i + 3) * stride] = t[i][2];
  }
}

// dw (3x3) += G^T d G, d the filter gradient in the transformed space, read from d[xi * stride].
template <typename T>
void filter_gradient_back(const T* d, int64_t stride, T* dw) {
  const T half = T(0.5);
  T s[3][4];  // G^T d
  for (int j = 0; j < 4; ++j) {
    const T d0 = d[j * stride], d1 = d[(4 + j) * stride], d2 = d[(8 + j) * stride],
            d3 = d[(12 + j) * stride];
    s[0][j] = d0 + half * (d1 + d2);
    s[1][j] = half * (d1 - d2);
    s[2][j] = half * (d1 + d2) + d3;
  }
  for (int i = 0; i < 3; ++i) {  // (G^T d) G
    dw[3 * i + 0] += s[i][0] + half * (s[i][1] + s[i][2]);
    dw[3 * i + 1] += half * (s[i][1] - s[i][2]);
    dw[3 * i + 2] += half * (s[i][1] + s[i][2]) + s[i][3];
  }
}

// Row (j, c) of v for sample i of the chunk at s0: slice z of channel c of `in` (cin channels)
// transformed, or zeros when z falls outside the volume. row: scratch of the tile transforms.
template <typename T>
void transform_input_plane(const Plan& p, int64_t s0, int64_t i, int64_t j, int64_t z, int64_t c,
                           int64_t cin, const T* in, T* v, T* row) {
  const int64_t plane = p.grid.h * p.grid.w, cols = p.cols, xs = p.in_slices * cin * cols;
  T* dst = v + (j * cin + c) * cols + i * p.tiles;
  if (z >= 0 && z < p.depth) {
    winograd::input_tiles(p.grid, in + (((s0 + i) * cin + c) * p.depth + z) * plane, dst, xs, row);
  } else {
    for (int64_t xi = 0; xi < kPoints; ++xi)
      std::fill(dst + xi * xs, dst + xi * xs + p.tiles, T(0));
  }
}

// Transforms the input slices a chunk reads, for `cin` channels: v row (j, c) holds slice
// d0 - pd + j of channel c (zero outside the volume), samples side by side in the columns.
template <typename T>
void transform_input_slices(const Plan& p, int64_t s0, int64_t m, int64_t d0, int64_t d1,
                            int64_t cin, const T* in, Scratch<T> sc) {
  for (int64_t j = 0; j < d1 - d0 + p.kd - 1; ++j)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t c = 0; c < cin; ++c)
        transform_input_plane(p, s0, i, j, d0 - p.pd + j, c, cin, in, sc.v, sc.row);
}

// out = conv(in, filter) + bias over the chunk, for `cin` input and `cout` output channels, the
// filter already transformed: u (16, cout, kd x cin).
template <typename T>
void convolve_chunk(const Plan& p, int64_t c, int64_t n, int64_t cin, int64_t cout, const T* in,
                    const T* u, const T* bias, T* out, Scratch<T> sc) {
  int64_t s0, m, d0, d1;
  p.chunk(c, n, s0, m, d0, d1);
  const int64_t plane = p.grid.h * p.grid.w, cols = p.cols, used = m * p.tiles;
  const int64_t xs = p.in_slices * cin * cols, rows = p.kd * cin;
  transform_input_slices(p, s0, m, d0, d1, cin, in, sc);
  for (int64_t d = d0; d < d1; ++d) {
    const T* window = sc.v + (d - d0) * cin * cols;  // rows of slices d - pd .. d - pd + kd - 1
    for (int64_t xi = 0; xi < kPoints; ++xi)         // (cout, kd x cin) x (kd x cin, tiles)
      blas_gemm(false, false, cout, used, rows, u + xi * cout * rows, rows, window + xi * xs, cols,
                T(0), sc.m + xi * cout * cols, cols);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t k = 0; k < cout; ++k)
        winograd::output_tiles(p.grid, sc.m + k * cols + i * p.tiles, cout * cols,
                               bias ? bias[k] : T(0),
                               out + (((s0 + i) * cout + k) * p.depth + d) * plane, sc.row);
  }
}

// The filter gradient in the transformed space, du (16, K, kd x C) = sum over all tiles of
// Z V^T, on a plan of the shape alone (one thread's chunks), so that every element is the same
// sum in the same order on any number of threads. Two ways, chosen by the shape:
// - lanes (conv_lanes.h; when two copies of du or more fit the budget): the threads share out the
//   lanes; a thread transforms a chunk and runs its 16 GEMMs alone, accumulating into the lane's
//   own du, and the lanes' sums are added in lane order;
// - one lane (filters too large to copy): the chunks go in order, and in each the team shares out
//   the tile transforms into one shared block, then the 16 GEMMs, each into its point of du.
struct FilterLayout {
  Plan p;  // make_plan(s, elem, 1)
  int64_t lanes = 1;
  int threads = 1;
  size_t du_bytes = 0;  // one (16, K, kd x C) sum
  // lanes > 1: each thread's Scratch (p.thread_bytes) from 0, then the lanes' sums from du_off.
  // One lane: v at 0, then m, du, and a tile-transform scratch per thread from row_off.
  size_t m_off = 0, du_off = 0, row_off = 0, row_bytes = 0;
  size_t total = 0;
};

FilterLayout filter_layout(const ConvShape& s, size_t elem, int threads) {
  FilterLayout l;
  if (threads <= 0) threads = omp_get_max_threads();
  l.p = make_plan(s, elem, 1);
  l.threads = threads > 1 && worth_threads(s) ? threads : 1;
  l.du_bytes = align_up(static_cast<size_t>(l.p.u_elems) * elem);
  // Every lane's copy counts, the result's too: sharing out each chunk's GEMMs costs no copy and
  // keeps every thread busy however many there are (on two, 2 lanes were no faster than that for
  // ResNet-18's 512x512 filters).
  l.lanes = lane_count(l.p.chunks, l.du_bytes, 0);
  l.row_bytes = align_up(static_cast<size_t>(l.p.row_elems) * elem);
  if (l.lanes > 1) {
    l.threads = static_cast<int>(std::min<int64_t>(l.threads, l.lanes));
    l.du_off = l.p.thread_bytes * static_cast<size_t>(l.threads);
    l.total = l.du_off + l.du_bytes * static_cast<size_t>(l.lanes);
    return l;
  }
  l.m_off = align_up(static_cast<size_t>(l.p.v_elems) * elem);
  l.du_off = l.m_off + align_up(static_cast<size_t>(l.p.m_elems) * elem);
  l.row_off = l.du_off + l.du_bytes;
  l.total = l.row_off + l.row_bytes * static_cast<size_t>(l.threads);
  return l;
}

template <typename T>
T* lane_du(const FilterLayout& l, void* ws, int64_t lane) {
  return reinterpret_cast<T*>(static_cast<char*>(ws) + l.du_off +
                              l.du_bytes * static_cast<size_t>(lane));
}

// du (+)= sum over chunk c's tiles of Z V^T, on one thread (beta 0 overwrites at first).
template <typename T>
void filter_gradient_chunk(const ConvShape& s, const Plan& p, int64_t c, const T* x, const T* dy,
                           T beta, Scratch<T> sc, T* du) {
  int64_t s0, m, d0, d1;
  p.chunk(c, s.n, s0, m, d0, d1);
  const int64_t plane = p.grid.h * p.grid.w, cols = p.cols, used = m * p.tiles;
  const int64_t xs = p.in_slices * s.c * cols, rows = p.kd * s.c;
  transform_input_slices(p, s0, m, d0, d1, s.c, x, sc);
  for (int64_t d = d0; d < d1; ++d) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t k = 0; k < s.k; ++k)
        winograd::gradient_tiles(p.grid, dy + (((s0 + i) * s.k + k) * p.depth + d) * plane,
                                 sc.m + k * cols + i * p.tiles, s.k * cols, sc.row);
    const T* window = sc.v + (d - d0) * s.c * cols;
    for (int64_t xi = 0; xi < kPoints; ++xi)  // (K, tiles) x (tiles, kd x C)
      blas_gemm(false, true, s.k, rows, used, sc.m + xi * s.k * cols, cols, window + xi * xs, cols,
                beta, du + xi * s.k * rows, rows);
    beta = T(1);
  }
}

template <typename T>
void lanes_filter_gradient(const ConvShape& s, const FilterLayout& l, const T* x, const T* dy,
                           void* ws) {
  const Plan& p = l.p;
  const int64_t n = p.u_elems;
  T* du = lane_du<T>(l, ws, 0);
#pragma omp parallel num_threads(l.threads) if (l.threads > 1)
  {
    const Scratch<T> sc = scratch_of<T>(p, ws, omp_get_thread_num());
#pragma omp for schedule(dynamic, 1)
    for (int64_t lane = 0; lane < l.lanes; ++lane) {
      int64_t begin, end;
      part_range(p.chunks, l.lanes, lane, begin, end);
      for (int64_t c = begin; c < end; ++c)
        filter_gradient_chunk(s, p, c, x, dy, c == begin ? T(0) : T(1), sc,
                              lane_du<T>(l, ws, lane));
    }
    add_lanes_in_order(du, n, l.lanes, [&](int64_t lane) { return lane_du<T>(l, ws, lane); });
  }
}

template <typename T>
void team_filter_gradient(const ConvShape& s, const FilterLayout& l, const T* x, const T* dy,
                          void* ws) {
  const Plan& p = l.p;
  char* base = static_cast<char*>(ws);
  T* v = reinterpret_cast<T*>(base);
  T* mt = reinterpret_cast<T*>(base + l.m_off);
  T* du = reinterpret_cast<T*>(base + l.du_off);
  const int64_t plane = p.grid.h * p.grid.w, cols = p.cols, rows = p.kd * s.c;
  const int64_t xs = p.in_slices * s.c * cols;
#pragma omp parallel num_threads(l.threads) if (l.threads > 1)
  {
    T* row = reinterpret_cast<T*>(base + l.row_off +
                                  l.row_bytes * static_cast<size_t>(omp_get_thread_num()));
    for (int64_t c = 0; c < p.chunks; ++c) {
      int64_t s0, m, d0, d1;
      p.chunk(c, s.n, s0, m, d0, d1);
      const int64_t used = m * p.tiles, planes = (d1 - d0 + p.kd - 1) * m * s.c;
#pragma omp for schedule(static)
      for (int64_t e = 0; e < planes; ++e) {
        const int64_t j = e / (m * s.c), i = e / s.c % m, ch = e % s.c;
        transform_input_plane(p, s0, i, j, d0 - p.pd + j, ch, s.c, x, v, row);
      }
      for (int64_t d = d0; d < d1; ++d) {
#pragma omp for schedule(static)
        for (int64_t e = 0; e < m * s.k; ++e) {
          const int64_t i = e / s.k, k = e % s.k;
          winograd::gradient_tiles(p.grid, dy + (((s0 + i) * s.k + k) * p.depth + d) * plane,
                                   mt + k * cols + i * p.tiles, s.k * cols, row);
        }
        const T* window = v + (d - d0) * s.c * cols;
        const T beta = c == 0 && d == d0 ? T(0) : T(1);
#pragma omp for schedule(dynamic, 1)
        for (int64_t xi = 0; xi < kPoints; ++xi)  // (K, tiles) x (tiles, kd x C)
          blas_gemm(false, true, s.k, rows, used, mt + xi * s.k * cols, cols, window + xi * xs,
                    cols, beta, du + xi * s.k * rows, rows);
      }
    }
  }
}

// Returns du, which lies in ws.
template <typename T>
T* transformed_filter_gradient(const ConvShape& s, const FilterLayout& l, const T* x, const T* dy,
                               void* ws) {
  if (l.lanes > 1)
    lanes_filter_gradient(s, l, x, dy, ws);
  else
    team_filter_gradient(s, l, x, dy, ws);
  return lane_du<T>(l, ws, 0);
}

void check_call(const ConvShape& s, size_t need, size_t ws_bytes, const void* ws) {
  NSAL_CHECK_AS(ShapeError, conv_winograd_applies(s),
                "{}: Winograd F(2x2, 3x3) needs a 3x3 filter (of depth 1, or 3 with depth padding "
                "1), stride 1, padding equal to the dilation (dilated planes only in 2D) and one "
                "group",
                s.str());
  NSAL_CHECK_AS(ShapeError, ws_bytes >= need && ws != nullptr,
                "{}: the workspace holds {} bytes, {} needed (conv_winograd_workspace_bytes with "
                "{} threads)",
                s.str(), ws_bytes, need, omp_get_max_threads());
}

// Transforms the filters of w (K, C, kd, 3, 3) into u (16, K, kd x C), row (t, c) for filter
// slice t; `swap` makes the filter of the input gradient instead: u (16, C, kd x K), from w
// rotated by 180 degrees in every dimension.
template <typename T>
void transform_filters(const ConvShape& s, const T* w, bool swap, T* u) {
  const int64_t kd = s.kernel[0];
  const int64_t rows = swap ? s.c : s.k, inner = swap ? s.k : s.c, stride = rows * kd * inner;
#pragma omp parallel for schedule(static) if (stride >= 4096 && !omp_in_parallel())
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t t = 0; t < kd; ++t)
      for (int64_t q = 0; q < inner; ++q) {
        const int64_t k = swap ? q : r, c = swap ? r : q, slice = swap ? kd - 1 - t : t;
        filter_transform(w + ((k * s.c + c) * kd + slice) * 9, swap, u + (r * kd + t) * inner + q,
                         stride);
      }
}

// Runs f(chunk, thread) over every chunk: on the plan's team in a fixed partition, or in sequence.
template <typename F>
void for_each_chunk(const Plan& p, F f) {
  if (p.threads == 1) {
    for (int64_t c = 0; c < p.chunks; ++c)
      f(c, 0);
    return;
  }
#pragma omp parallel num_threads(p.threads)
  {
    const int t = omp_get_thread_num();
    int64_t begin, end;
    part_range(p.chunks, omp_get_num_threads(), t, begin, end);
    for (int64_t c = begin; c < end; ++c)
      f(c, t);
  }
}

}  // namespace

namespace {

bool dilated(const ConvShape& s) {
  return s.dilation[1] > 1;
}

// Scratch of an undilated call: the larger of the chunk plan's (forward, input gradient) and the
// filter gradient's.
size_t plain_workspace_bytes(const ConvShape& s, size_t elem, int threads) {
  return std::max(make_plan(s, elem, threads).total_bytes, filter_layout(s, elem, threads).total);
}

// Dilated planes: the phase tensors first, then the plain convolution's workspace.
struct PhaseLayout {
  ConvShape plain;
  size_t x_off = 0, y_off = 0, ws_off = 0;  // x: (n', C, ..), y: (n', max(C, K), ..)
  size_t total = 0;
};

PhaseLayout phase_layout(const ConvShape& s, size_t elem, int threads) {
  PhaseLayout l;
  l.plain = phases::plain_shape(s);
  const size_t per_channel = static_cast<size_t>(l.plain.n * l.plain.in_size()) * elem;
  l.y_off = align_up(per_channel * static_cast<size_t>(s.c));
  l.ws_off = l.y_off + align_up(per_channel * static_cast<size_t>(std::max(s.c, s.k)));
  l.total = l.ws_off + plain_workspace_bytes(l.plain, elem, threads);
  return l;
}

// The layout of a call on a dilated plane, checked as check_call checks a plain one.
PhaseLayout checked_phase_layout(const ConvShape& s, size_t elem, size_t ws_bytes, const void* ws) {
  const PhaseLayout l = phase_layout(s, elem, omp_get_max_threads());
  check_call(s, l.total, ws_bytes, ws);
  return l;
}

}  // namespace

bool conv_winograd_applies(const ConvShape& s) {
  // The plane: 3x3, stride 1, padding equal to the dilation (1, or d for a dilated plane).
  const int64_t d = s.dilation[1];
  const bool plane = s.kernel[1] == 3 && s.kernel[2] == 3 && s.stride[1] == 1 && s.stride[2] == 1 &&
                     s.dilation[2] == d && s.pad[1] == d && s.pad[2] == d;
  // Depth: one slice at a time (2D, or a 1x3x3 filter without depth padding), or 3 with padding 1;
  // dilated planes only in 2D.
  const bool depth =
      s.stride[0] == 1 && ((s.kernel[0] == 1 && s.pad[0] == 0 && (d == 1 || s.in[0] == 1)) ||
                           (s.kernel[0] == 3 && s.pad[0] == 1 && s.dilation[0] == 1 && d == 1));
  return plane && depth && s.groups == 1 && s.n > 0;
}

ConvShape conv_winograd_plain_shape(const ConvShape& s) {
  return dilated(s) ? phases::plain_shape(s) : s;
}

size_t conv_winograd_workspace_bytes(const ConvShape& s, size_t elem_bytes, int threads) {
  s.validate();
  if (!conv_winograd_applies(s)) return 0;
  if (threads <= 0) threads = omp_get_max_threads();
  if (dilated(s)) return phase_layout(s, elem_bytes, threads).total;
  return plain_workspace_bytes(s, elem_bytes, threads);
}

template <typename T>
void conv_winograd_forward(const ConvShape& s, const T* x, const T* w, const T* bias, T* y,
                           void* ws, size_t ws_bytes) {
  s.validate();
  if (dilated(s)) {
    const PhaseLayout l = checked_phase_layout(s, sizeof(T), ws_bytes, ws);
    char* base = static_cast<char*>(ws);
    T* px = reinterpret_cast<T*>(base + l.x_off);
    T* py = reinterpret_cast<T*>(base + l.y_off);
    const int64_t d = s.dilation[1], h = s.in[1], wd = s.in[2];
    phases::split(x, s.n, s.c, h, wd, d, px);
    conv_winograd_forward(l.plain, px, w, bias, py, base + l.ws_off, ws_bytes - l.ws_off);
    phases::merge(py, s.n, s.k, h, wd, d, y);
    return;
  }
  const Plan p = make_plan(s, sizeof(T), omp_get_max_threads());
  check_call(s, plain_workspace_bytes(s, sizeof(T), omp_get_max_threads()), ws_bytes, ws);
  T* u = shared_u<T>(ws);
  transform_filters(s, w, false, u);
  for_each_chunk(p, [&](int64_t c, int t) {
    convolve_chunk(p, c, s.n, s.c, s.k, x, u, bias, y, thread_scratch<T>(p, ws, t));
  });
}

template <typename T>
void conv_winograd_backward(const ConvShape& s, const T* x, const T* w, const T* dy, T* dx, T* dw,
                            void* ws, size_t ws_bytes) {
  s.validate();
  NSAL_CHECK_AS(ShapeError, (!dw || x) && (!dx || w),
                "{}: the filter gradient needs x and the input gradient needs w", s.str());
  if (dilated(s)) {
    const PhaseLayout l = checked_phase_layout(s, sizeof(T), ws_bytes, ws);
    char* base = static_cast<char*>(ws);
    T* px = reinterpret_cast<T*>(base + l.x_off);  // x's phases, then dx's
    T* pdy = reinterpret_cast<T*>(base + l.y_off);
    const int64_t d = s.dilation[1], h = s.in[1], wd = s.in[2];
    phases::split(dy, s.n, s.k, h, wd, d, pdy);
    if (dw) {
      phases::split(x, s.n, s.c, h, wd, d, px);
      conv_winograd_backward(l.plain, px, w, pdy, static_cast<T*>(nullptr), dw, base + l.ws_off,
                             ws_bytes - l.ws_off);
    }
    if (dx) {
      conv_winograd_backward(l.plain, static_cast<const T*>(nullptr), w, pdy, px,
                             static_cast<T*>(nullptr), base + l.ws_off, ws_bytes - l.ws_off);
      phases::merge(px, s.n, s.c, h, wd, d, dx);
    }
    return;
  }
  check_call(s, plain_workspace_bytes(s, sizeof(T), omp_get_max_threads()), ws_bytes, ws);
  if (dw) {
    const FilterLayout l = filter_layout(s, sizeof(T), omp_get_max_threads());
    const T* du = transformed_filter_gradient(s, l, x, dy, ws);
    // du row (t, c) of filter k is w[k][c][t]: the same order as dw's (K, C, kd) filters.
    const int64_t kd = s.kernel[0], stride = s.k * kd * s.c;
#pragma omp parallel for schedule(static) if (stride >= 4096)
    for (int64_t k = 0; k < s.k; ++k)
      for (int64_t t = 0; t < kd; ++t)
        for (int64_t c = 0; c < s.c; ++c)
          filter_gradient_back(du + (k * kd + t) * s.c + c, stride,
                               dw + ((k * s.c + c) * kd + t) * 9);
  }
  if (dx) {
    const Plan p = make_plan(s, sizeof(T), omp_get_max_threads());
    T* u = shared_u<T>(ws);
    transform_filters(s, w, true, u);
    for_each_chunk(p, [&](int64_t c, int t) {
      convolve_chunk(p, c, s.n, s.k, s.c, dy, u, static_cast<const T*>(nullptr), dx,
                     thread_scratch<T>(p, ws, t));
    });
  }
}

template void conv_winograd_forward<float>(const ConvShape&, const float*, const float*,
                                           const float*, float*, void*, size_t);
template void conv_winograd_forward<double>(const ConvShape&, const double*, const double*,
                                            const double*, double*, void*, size_t);
template void conv_winograd_backward<float>(const ConvShape&, const float*, const float*,
                                            const float*, float*, float*, void*, size_t);
template void conv_winograd_backward<double>(const ConvShape&, const double*, const double*,
                                             const double*, double*, double*, void*, size_t);

}  // namespace nsal::kernels::cpu

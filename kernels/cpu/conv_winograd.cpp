#include "kernels/cpu/conv_winograd.h"

#include <omp.h>

#include <algorithm>
#include <cstring>

#include "kernels/cpu/blas_gemm.h"
#include "kernels/cpu/scratch_layout.h"
#include "kernels/cpu/winograd_tiles.h"
#include "kernels/error.h"

namespace nsal::kernels::cpu {
namespace {

// Transformed space: 4x4 = 16 points (xi = 4 a + b), each a (channels, tiles) matrix.
constexpr int64_t kPoints = 16;
// Tiles per GEMM (whole samples, so at least one sample's): the transformed blocks of one thread
// (16 x channels x tiles each) should stay near the L2 cache. At ResNet-18-CIFAR shapes, batch
// 128, 2 threads, 64 and 128 were best (1.3-1.75x im2col per pass); 512 and 1024 lost up to a
// third of that on the 8x8 and 4x4 planes.
constexpr int64_t kTargetTiles = 128;

struct Plan {
  int threads = 1;             // team of the chunk loop; 1: chunks in sequence on a threaded BLAS
  winograd::TileGrid grid;     // of a plane (input and output alike)
  int64_t tiles = 0;           // per sample
  int64_t nb = 1, chunks = 0;  // samples per chunk, chunks
  int64_t cols = 0;            // tiles per chunk: nb * tiles, the GEMMs' width
  int64_t buf_elems = 0;       // per thread, each of two blocks: (16, max(C, K), cols)
  int64_t row_elems = 0;       // per thread: scratch of the plain tile transforms
  int64_t u_elems = 0;         // shared: transformed filter (16, K, C) or (16, C, K)
  int64_t du_elems = 0;        // per thread: the filter gradient in the transformed space
  size_t thread_bytes = 0, total_bytes = 0;
};

Plan make_plan(const ConvShape& s, size_t elem, int threads) {
  Plan p;
  if (threads <= 0) threads = omp_get_max_threads();
  p.grid.h = s.in[1];
  p.grid.w = s.in[2];
  p.grid.th = ceil_div(p.grid.h, 2);
  p.grid.tw = ceil_div(p.grid.w, 2);
  p.tiles = p.grid.tiles();
  p.threads = threads > 1 && s.n >= threads && worth_threads(s) ? threads : 1;
  const int64_t per_thread = ceil_div(s.n, p.threads);
  const int64_t want = std::min(per_thread, std::max<int64_t>(1, kTargetTiles / p.tiles));
  const int64_t rounds = ceil_div(per_thread, want);
  p.nb = ceil_div(s.n, p.threads * rounds);  // equal chunks for every thread
  p.chunks = ceil_div(s.n, p.nb);
  p.cols = p.nb * p.tiles;
  p.buf_elems = kPoints * std::max(s.c, s.k) * p.cols;
  p.row_elems = p.grid.scratch_elems();
  p.u_elems = kPoints * s.c * s.k;
  p.du_elems = kPoints * s.c * s.k;
  p.thread_bytes = 2 * align_up(static_cast<size_t>(p.buf_elems) * elem) +
                   align_up(static_cast<size_t>(p.row_elems) * elem) +
                   align_up(static_cast<size_t>(p.du_elems) * elem);
  p.total_bytes = align_up(static_cast<size_t>(p.u_elems) * elem) +
                  p.thread_bytes * static_cast<size_t>(p.threads);
  return p;
}

template <typename T>
struct Scratch {
  T* a;    // (16, channels, cols)
  T* b;    // (16, channels, cols)
  T* row;  // row transforms, padded line
  T* du;   // (16, K, C)
};

template <typename T>
T* shared_u(void* ws) {
  return static_cast<T*>(ws);
}

template <typename T>
Scratch<T> thread_scratch(const Plan& p, void* ws, int t) {
  char* base = static_cast<char*>(ws) + align_up(static_cast<size_t>(p.u_elems) * sizeof(T)) +
               p.thread_bytes * static_cast<size_t>(t);
  const size_t buf = align_up(static_cast<size_t>(p.buf_elems) * sizeof(T));
  const size_t row = align_up(static_cast<size_t>(p.row_elems) * sizeof(T));
  return {reinterpret_cast<T*>(base), reinterpret_cast<T*>(base + buf),
          reinterpret_cast<T*>(base + 2 * buf), reinterpret_cast<T*>(base + 2 * buf + row)};
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

// out[s0 .. s0 + m) = conv(in, filter) + bias for `cin` input and `cout` output planes, the
// filter already transformed: u (16, cout, cin).
template <typename T>
void convolve_chunk(const Plan& p, int64_t s0, int64_t m, int64_t cin, int64_t cout, const T* in,
                    const T* u, const T* bias, T* out, Scratch<T> sc) {
  const int64_t plane = p.grid.h * p.grid.w, cols = p.cols, used = m * p.tiles;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t c = 0; c < cin; ++c)
      winograd::input_tiles(p.grid, in + ((s0 + i) * cin + c) * plane,
                            sc.a + c * cols + i * p.tiles, cin * cols, sc.row);
  for (int64_t xi = 0; xi < kPoints; ++xi)  // (cout, cin) x (cin, tiles)
    blas_gemm(false, false, cout, used, cin, u + xi * cout * cin, cin, sc.a + xi * cin * cols, cols,
              T(0), sc.b + xi * cout * cols, cols);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t k = 0; k < cout; ++k)
      winograd::output_tiles(p.grid, sc.b + k * cols + i * p.tiles, cout * cols,
                             bias ? bias[k] : T(0), out + ((s0 + i) * cout + k) * plane, sc.row);
}

// du (16, K, C) (+)= sum over the chunk's tiles of Z V^T (beta 0 overwrites).
template <typename T>
void filter_gradient_chunk(const ConvShape& s, const Plan& p, int64_t s0, int64_t m, const T* x,
                           const T* dy, T beta, Scratch<T> sc) {
  const int64_t plane = p.grid.h * p.grid.w, cols = p.cols, used = m * p.tiles;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t c = 0; c < s.c; ++c)
      winograd::input_tiles(p.grid, x + ((s0 + i) * s.c + c) * plane, sc.a + c * cols + i * p.tiles,
                            s.c * cols, sc.row);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t k = 0; k < s.k; ++k)
      winograd::gradient_tiles(p.grid, dy + ((s0 + i) * s.k + k) * plane,
                               sc.b + k * cols + i * p.tiles, s.k * cols, sc.row);
  for (int64_t xi = 0; xi < kPoints; ++xi)  // (K, tiles) x (tiles, C)
    blas_gemm(false, true, s.k, s.c, used, sc.b + xi * s.k * cols, cols, sc.a + xi * s.c * cols,
              cols, beta, sc.du + xi * s.k * s.c, s.c);
}

void check_call(const ConvShape& s, const Plan& p, size_t ws_bytes, const void* ws) {
  NSAL_CHECK_AS(ShapeError, conv_winograd_applies(s),
                "{}: Winograd F(2x2, 3x3) needs a 2D 3x3 filter, stride 1, padding 1, dilation 1 "
                "and one group",
                s.str());
  NSAL_CHECK_AS(ShapeError, ws_bytes >= p.total_bytes && ws != nullptr,
                "{}: the workspace holds {} bytes, {} needed (conv_winograd_workspace_bytes with "
                "{} threads)",
                s.str(), ws_bytes, p.total_bytes, omp_get_max_threads());
}

// Transforms every (rows, cols) filter of w into u (16, rows, cols); `swap` makes the filter of
// the input gradient: u[xi][c][k] from w[k][c] rotated by 180 degrees.
template <typename T>
void transform_filters(const ConvShape& s, const T* w, bool swap, T* u) {
  const int64_t rows = swap ? s.c : s.k, cols = swap ? s.k : s.c, stride = rows * cols;
#pragma omp parallel for schedule(static) if (stride >= 4096 && !omp_in_parallel())
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t q = 0; q < cols; ++q) {
      const T* g = swap ? w + (q * s.c + r) * 9 : w + (r * s.c + q) * 9;
      filter_transform(g, swap, u + r * cols + q, stride);
    }
}

inline void chunk_range(const Plan& p, int t, int nt, int64_t& begin, int64_t& end) {
  begin = p.chunks * t / nt;
  end = p.chunks * (t + 1) / nt;
}

// Runs f(chunk, thread, first chunk of that thread) over every chunk: on the plan's team in a
// fixed partition, or in sequence (and then BLAS threads each GEMM itself). Returns the number of
// threads that took part (the team can come out smaller than asked, inside another region).
template <typename F>
int for_each_chunk(const Plan& p, F f) {
  if (p.threads == 1) {
    for (int64_t c = 0; c < p.chunks; ++c)
      f(c, 0, c == 0);
    return 1;
  }
  int team = 1;
#pragma omp parallel num_threads(p.threads)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    if (t == 0) team = nt;
    int64_t begin, end;
    chunk_range(p, t, nt, begin, end);
    for (int64_t c = begin; c < end; ++c)
      f(c, t, c == begin);
  }
  return team;
}

}  // namespace

bool conv_winograd_applies(const ConvShape& s) {
  return s.spatial == 2 && s.kernel[0] == 1 && s.kernel[1] == 3 && s.kernel[2] == 3 &&
         s.stride[1] == 1 && s.stride[2] == 1 && s.pad[1] == 1 && s.pad[2] == 1 &&
         s.dilation[1] == 1 && s.dilation[2] == 1 && s.groups == 1 && s.n > 0;
}

size_t conv_winograd_workspace_bytes(const ConvShape& s, size_t elem_bytes, int threads) {
  s.validate();
  if (!conv_winograd_applies(s)) return 0;
  return make_plan(s, elem_bytes, threads).total_bytes;
}

template <typename T>
void conv_winograd_forward(const ConvShape& s, const T* x, const T* w, const T* bias, T* y,
                           void* ws, size_t ws_bytes) {
  s.validate();
  const Plan p = make_plan(s, sizeof(T), omp_get_max_threads());
  check_call(s, p, ws_bytes, ws);
  T* u = shared_u<T>(ws);
  transform_filters(s, w, false, u);
  for_each_chunk(p, [&](int64_t c, int t, bool) {
    const int64_t s0 = c * p.nb;
    convolve_chunk(p, s0, std::min(p.nb, s.n - s0), s.c, s.k, x, u, bias, y,
                   thread_scratch<T>(p, ws, t));
  });
}

template <typename T>
void conv_winograd_backward(const ConvShape& s, const T* x, const T* w, const T* dy, T* dx, T* dw,
                            void* ws, size_t ws_bytes) {
  s.validate();
  NSAL_CHECK_AS(ShapeError, (!dw || x) && (!dx || w),
                "{}: the filter gradient needs x and the input gradient needs w", s.str());
  const Plan p = make_plan(s, sizeof(T), omp_get_max_threads());
  check_call(s, p, ws_bytes, ws);
  if (dw) {
    const int team = for_each_chunk(p, [&](int64_t c, int t, bool first) {
      const int64_t s0 = c * p.nb;
      filter_gradient_chunk(s, p, s0, std::min(p.nb, s.n - s0), x, dy, first ? T(0) : T(1),
                            thread_scratch<T>(p, ws, t));
    });
    // Threads' sums in thread order into thread 0's (threads without chunks wrote nothing),
    // then back to 3x3 filters.
    T* du = thread_scratch<T>(p, ws, 0).du;
    for (int t = 1; t < team; ++t) {
      int64_t b, e;
      chunk_range(p, t, team, b, e);
      if (e <= b) continue;
      const T* part = thread_scratch<T>(p, ws, t).du;
#pragma omp parallel for simd schedule(static) if (p.du_elems >= 65536)
      for (int64_t i = 0; i < p.du_elems; ++i)
        du[i] += part[i];
    }
    const int64_t stride = s.k * s.c;
#pragma omp parallel for schedule(static) if (stride >= 4096)
    for (int64_t kc = 0; kc < stride; ++kc)
      filter_gradient_back(du + kc, stride, dw + kc * 9);
  }
  if (dx) {
    T* u = shared_u<T>(ws);
    transform_filters(s, w, true, u);
    for_each_chunk(p, [&](int64_t c, int t, bool) {
      const int64_t s0 = c * p.nb;
      convolve_chunk(p, s0, std::min(p.nb, s.n - s0), s.k, s.c, dy, u,
                     static_cast<const T*>(nullptr), dx, thread_scratch<T>(p, ws, t));
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

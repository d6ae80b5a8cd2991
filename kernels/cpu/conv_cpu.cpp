#include "kernels/cpu/conv_cpu.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "kernels/cpu/blas_gemm.h"
#include "kernels/cpu/conv_direct.h"
#include "kernels/cpu/conv_winograd.h"
#include "kernels/cpu/im2col.h"
#include "kernels/cpu/scratch_layout.h"
#include "kernels/error.h"

namespace nsal::kernels::cpu {
namespace {

std::atomic<bool> g_winograd{true};

// Winograd where it was measured faster than im2col + GEMM (ResNet-18-CIFAR widths, batch 1 to
// 128, 2 threads): for planes one sample per thread at least (else the GEMMs run on a threaded
// BLAS, too small for it; volumes also split by depth), enough tiles to pay for transforming the
// filter (16 C K kd values per call), and 8 channels or more.
bool prefers_winograd(const ConvShape& s, int threads) {
  if (!g_winograd.load(std::memory_order_relaxed) || !conv_winograd_applies(s)) return false;
  const ConvShape p = conv_winograd_plain_shape(s);  // a dilated plane's phases
  const int64_t tiles = p.n * p.in[0] * ((p.in[1] + 1) / 2) * ((p.in[2] + 1) / 2);
  return (p.n >= threads || p.in[0] > 1) && tiles >= 512 && std::min(p.c, p.k) >= 8;
}

// Columns per GEMM: fewer waste time on call overhead and on packing the filter, more let the
// column matrix and BLAS's packed copy of it fall out of the L2 cache (256 to 384 measured best
// on a 2 MiB-L2 Xeon at ResNet-18 shapes). Small outputs put several samples side by side, large
// ones are cut into bands of output lines.
constexpr int64_t kTargetCols = 256;
// Upper bound on one thread's column matrix (elements), whatever kTargetCols asks for.
constexpr int64_t kMaxColElems = int64_t{1} << 22;

struct Plan {
  int threads = 1;  // team of the chunk loop; 1: chunks in sequence on a threaded BLAS
  int64_t nb = 1;   // samples per chunk
  int64_t chunks = 0;
  int64_t band_lines = 1;   // output lines per GEMM when nb == 1 (all of them when nb > 1)
  int64_t cols = 0;         // widest GEMM: nb * out_size or band_lines * OW
  int64_t col_elems = 0;    // per thread: (col_rows, cols)
  int64_t buf_elems = 0;    // per thread: (K / groups, cols) when nb > 1
  int64_t dw_elems = 0;     // per thread other than the first: a private filter gradient
  size_t thread_bytes = 0;  // per thread: col + buf, aligned
  size_t total_bytes = 0;
};

Plan make_plan(const ConvShape& s, size_t elem, int threads) {
  Plan p;
  if (threads <= 0) threads = omp_get_max_threads();
  if (s.n == 0 || conv_prefers_direct(s)) return p;  // the direct path needs no workspace
  const int64_t out = s.out_size(), lines = conv_out_lines(s), ow = s.out_dim(2);
  const int64_t rows = s.col_rows();
  p.threads = threads > 1 && s.n >= threads && worth_threads(s) ? threads : 1;
  const int64_t per_thread = ceil_div(s.n, p.threads);
  if (2 * out >= kTargetCols || per_thread == 1) {
    p.nb = 1;
    int64_t band = std::max<int64_t>(1, (kTargetCols + ow / 2) / ow);
    band = std::min({band, lines, std::max<int64_t>(1, kMaxColElems / (rows * ow))});
    p.band_lines = ceil_div(lines, ceil_div(lines, band));  // equal bands
  } else {
    int64_t want =
        std::min(ceil_div(kTargetCols, out), std::max<int64_t>(1, kMaxColElems / (rows * out)));
    want = std::min(want, per_thread);
    // Balance: every thread gets the same number of chunks of (nearly) the same size.
    const int64_t rounds = ceil_div(per_thread, want);
    p.nb = ceil_div(s.n, p.threads * rounds);
    p.band_lines = lines;
  }
  p.chunks = ceil_div(s.n, p.nb);
  p.cols = p.nb * p.band_lines * ow;
  p.col_elems = s.is_pointwise() && p.nb == 1 ? 0 : rows * p.cols;
  p.buf_elems = p.nb > 1 ? s.k_per_group() * p.cols : 0;
  p.dw_elems = p.threads > 1 ? s.w_numel() : 0;
  p.thread_bytes = align_up(static_cast<size_t>(p.col_elems) * elem) +
                   align_up(static_cast<size_t>(p.buf_elems) * elem);
  p.total_bytes =
      p.thread_bytes * static_cast<size_t>(p.threads) +
      align_up(static_cast<size_t>(p.dw_elems) * elem) * static_cast<size_t>(p.threads - 1);
  return p;
}

template <typename T>
struct Scratch {
  T* col;
  T* buf;
};

template <typename T>
Scratch<T> thread_scratch(const Plan& p, void* ws, int t) {
  char* base = static_cast<char*>(ws) + p.thread_bytes * static_cast<size_t>(t);
  return {reinterpret_cast<T*>(base),
          reinterpret_cast<T*>(base + align_up(static_cast<size_t>(p.col_elems) * sizeof(T)))};
}

template <typename T>
T* thread_dw(const Plan& p, void* ws, int t) {  // t >= 1
  char* base = static_cast<char*>(ws) + p.thread_bytes * static_cast<size_t>(p.threads) +
               align_up(static_cast<size_t>(p.dw_elems) * sizeof(T)) * static_cast<size_t>(t - 1);
  return reinterpret_cast<T*>(base);
}

void check_workspace(const ConvShape& s, const Plan& p, size_t ws_bytes, const void* ws) {
  NSAL_CHECK_AS(ShapeError, ws_bytes >= p.total_bytes && (ws != nullptr || p.total_bytes == 0),
                "{}: the workspace holds {} bytes, {} needed (conv_workspace_bytes with {} "
                "threads)",
                s.str(), ws_bytes, p.total_bytes, omp_get_max_threads());
}

// Range of chunks of thread t out of nt: a fixed partition, so results do not depend on timing.
// Chunks are whole samples, so no two threads touch the same sample.
inline void chunk_range(const Plan& p, int t, int nt, int64_t& begin, int64_t& end) {
  begin = p.chunks * t / nt;
  end = p.chunks * (t + 1) / nt;
}

// The part of a chunk one GEMM covers: samples [s0, s0 + m), output lines [l0, l1) of each.
struct Block {
  int64_t s0, m, l0, l1;
  int64_t q0(const ConvShape& s) const { return l0 * s.out_dim(2); }  // first output position
  int64_t cols(const ConvShape& s) const { return m * (l1 - l0) * s.out_dim(2); }
};

// im2col of a block, channels of group g, samples side by side in col (ld = block columns).
// `parallel`: split the work over the threads (only outside a parallel region).
template <typename T>
void im2col_block(const ConvShape& s, const T* x, const Block& b, int64_t g, T* col,
                  bool parallel) {
  const int64_t cg = s.c_per_group(), in = s.in_size(), ld = b.cols(s);
  const int64_t per_sample = ld / b.m, rows_per_channel = s.kernel_size();
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t j = 0; j < b.m * cg; ++j) {
    const int64_t i = j / cg, ch = j % cg;
    im2col(s, 1, x + ((b.s0 + i) * s.c + g * cg + ch) * in,
           col + ch * rows_per_channel * ld + i * per_sample, ld, b.l0, b.l1);
  }
}

// dx[block samples, channels of group g] += col2im(col). The block that starts a sample (line
// 0) first zeroes the sample's channel planes, while they are about to be used.
template <typename T>
void col2im_block(const ConvShape& s, const T* col, const Block& b, int64_t g, T* dx,
                  bool parallel) {
  const int64_t cg = s.c_per_group(), in = s.in_size(), ld = b.cols(s);
  const int64_t per_sample = ld / b.m, rows_per_channel = s.kernel_size();
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t j = 0; j < b.m * cg; ++j) {
    const int64_t i = j / cg, ch = j % cg;
    T* plane = dx + ((b.s0 + i) * s.c + g * cg + ch) * in;
    if (b.l0 == 0) std::memset(plane, 0, static_cast<size_t>(in) * sizeof(T));
    col2im_add(s, 1, col + ch * rows_per_channel * ld + i * per_sample, ld, plane, b.l0, b.l1);
  }
}

// The blocks of chunk [s0, s0 + m): the whole chunk when m > 1, else bands of output lines.
template <typename F>
void for_each_block(const ConvShape& s, const Plan& p, int64_t s0, int64_t m, F f) {
  const int64_t lines = conv_out_lines(s);
  if (m > 1) {
    f(Block{s0, m, 0, lines});
    return;
  }
  for (int64_t l0 = 0; l0 < lines; l0 += p.band_lines)
    f(Block{s0, 1, l0, std::min(lines, l0 + p.band_lines)});
}

template <typename T>
void forward_chunk(const ConvShape& s, const Plan& p, int64_t s0, int64_t m, const T* x, const T* w,
                   const T* bias, T* y, Scratch<T> sc, bool parallel) {
  const int64_t kg = s.k_per_group(), cg = s.c_per_group(), rows = s.col_rows();
  const int64_t in = s.in_size(), out = s.out_size();
  const bool direct = s.is_pointwise() && m == 1;
  for (int64_t g = 0; g < s.groups; ++g) {
    const T* wg = w + g * kg * rows;  // (K / groups, rows)
    for_each_block(s, p, s0, m, [&](const Block& b) {
      const int64_t cols = b.cols(s), q0 = b.q0(s);
      const T* src = sc.col;  // (rows, cols), row stride ld
      int64_t ld = cols;
      if (direct) {
        src = x + (s0 * s.c + g * cg) * in + q0;
        ld = in;
      } else {
        im2col_block(s, x, b, g, sc.col, parallel);
      }
      if (m == 1) {  // straight into y, row stride out
        T* yg = y + (s0 * s.k + g * kg) * out + q0;
        blas_gemm(false, false, kg, cols, rows, wg, rows, src, ld, T(0), yg, out);
        if (bias)
          for (int64_t k = 0; k < kg; ++k) {
            const T bk = bias[g * kg + k];
            T* row = yg + k * out;
            for (int64_t q = 0; q < cols; ++q)
              row[q] += bk;
          }
        return;
      }
      blas_gemm(false, false, kg, cols, rows, wg, rows, src, ld, T(0), sc.buf, cols);
      for (int64_t i = 0; i < m; ++i)  // (K / groups, m, out) -> (m, K / groups, out) + bias
        for (int64_t k = 0; k < kg; ++k) {
          const T bk = bias ? bias[g * kg + k] : T(0);
          const T* from = sc.buf + k * cols + i * out;
          T* to = y + ((s0 + i) * s.k + g * kg + k) * out;
          for (int64_t q = 0; q < out; ++q)
            to[q] = from[q] + bk;
        }
    });
  }
}

// dw_beta: 0 to overwrite dw (a thread's first chunk into its private gradient), 1 to accumulate.
template <typename T>
void backward_chunk(const ConvShape& s, const Plan& p, int64_t s0, int64_t m, const T* x,
                    const T* w, const T* dy, T* dx, T* dw, T dw_beta, Scratch<T> sc,
                    bool parallel) {
  const int64_t kg = s.k_per_group(), cg = s.c_per_group(), rows = s.col_rows();
  const int64_t in = s.in_size(), out = s.out_size();
  const bool direct = s.is_pointwise() && m == 1;
  for (int64_t g = 0; g < s.groups; ++g) {
    const T* wg = w ? w + g * kg * rows : nullptr;
    T* dwg = dw ? dw + g * kg * rows : nullptr;
    T beta = dw_beta;
    for_each_block(s, p, s0, m, [&](const Block& b) {
      const int64_t cols = b.cols(s), q0 = b.q0(s);
      const T* dyg = dy + (s0 * s.k + g * kg) * out + q0;  // (K / groups, cols), row stride ld
      int64_t ld = out;
      if (m > 1) {  // (m, K / groups, out) -> (K / groups, m, out)
        for (int64_t i = 0; i < m; ++i)
          for (int64_t k = 0; k < kg; ++k)
            std::memcpy(sc.buf + k * cols + i * out, dy + ((s0 + i) * s.k + g * kg + k) * out,
                        static_cast<size_t>(out) * sizeof(T));
        dyg = sc.buf;
        ld = cols;
      }
      if (dwg) {
        const T* src = sc.col;
        int64_t lds = cols;
        if (direct) {
          src = x + (s0 * s.c + g * cg) * in + q0;
          lds = in;
        } else {
          im2col_block(s, x, b, g, sc.col, parallel);
        }
        blas_gemm(false, true, kg, rows, cols, dyg, ld, src, lds, beta, dwg, rows);
        beta = T(1);
      }
      if (dx) {
        if (direct) {
          blas_gemm(true, false, cg, cols, kg, wg, rows, dyg, ld, T(0),
                    dx + (s0 * s.c + g * cg) * in + q0, in);
        } else {
          blas_gemm(true, false, rows, cols, kg, wg, rows, dyg, ld, T(0), sc.col, cols);
          col2im_block(s, sc.col, b, g, dx, parallel);
        }
      }
    });
  }
}

}  // namespace

void set_conv_winograd(bool enabled) {
  g_winograd.store(enabled, std::memory_order_relaxed);
}

bool conv_winograd_enabled() {
  return g_winograd.load(std::memory_order_relaxed);
}

bool conv_uses_winograd(const ConvShape& s, int threads) {
  return prefers_winograd(s, threads > 0 ? threads : omp_get_max_threads());
}

size_t conv_workspace_bytes(const ConvShape& s, size_t elem_bytes, int threads) {
  s.validate();
  if (threads <= 0) threads = omp_get_max_threads();
  if (prefers_winograd(s, threads)) return conv_winograd_workspace_bytes(s, elem_bytes, threads);
  return make_plan(s, elem_bytes, threads).total_bytes;
}

template <typename T>
void conv_forward(const ConvShape& s, const T* x, const T* w, const T* bias, T* y, void* ws,
                  size_t ws_bytes) {
  s.validate();
  if (conv_prefers_direct(s)) {
    conv_direct_forward(s, x, w, bias, y);
    return;
  }
  if (prefers_winograd(s, omp_get_max_threads())) {
    conv_winograd_forward(s, x, w, bias, y, ws, ws_bytes);
    return;
  }
  const Plan p = make_plan(s, sizeof(T), omp_get_max_threads());
  check_workspace(s, p, ws_bytes, ws);
  if (p.threads == 1) {
    const bool parallel = omp_get_max_threads() > 1 && !omp_in_parallel() && worth_threads(s);
    for (int64_t c = 0; c < p.chunks; ++c) {
      const int64_t s0 = c * p.nb;
      forward_chunk(s, p, s0, std::min(p.nb, s.n - s0), x, w, bias, y, thread_scratch<T>(p, ws, 0),
                    parallel);
    }
    return;
  }
#pragma omp parallel num_threads(p.threads)
  {
    const int t = omp_get_thread_num();
    int64_t begin, end;
    chunk_range(p, t, omp_get_num_threads(), begin, end);
    const Scratch<T> sc = thread_scratch<T>(p, ws, t);
    for (int64_t c = begin; c < end; ++c) {
      const int64_t s0 = c * p.nb;
      forward_chunk(s, p, s0, std::min(p.nb, s.n - s0), x, w, bias, y, sc, false);
    }
  }
}

template <typename T>
void conv_backward_bias(const ConvShape& s, const T* dy, T* db) {
  const int64_t out = s.out_size();
#pragma omp parallel for schedule(static) if (s.y_numel() >= (int64_t{1} << 16))
  for (int64_t k = 0; k < s.k; ++k) {
    double acc = 0;
    for (int64_t i = 0; i < s.n; ++i) {
      const T* row = dy + (i * s.k + k) * out;
      T part = 0;
#pragma omp simd reduction(+ : part)
      for (int64_t q = 0; q < out; ++q)
        part += row[q];
      acc += static_cast<double>(part);
    }
    db[k] += static_cast<T>(acc);
  }
}

template <typename T>
void conv_backward(const ConvShape& s, const T* x, const T* w, const T* dy, T* dx, T* dw, T* db,
                   void* ws, size_t ws_bytes) {
  s.validate();
  NSAL_CHECK_AS(ShapeError, (!dw || x) && (!dx || w),
                "{}: the filter gradient needs x and the input gradient needs w", s.str());
  if (db) conv_backward_bias(s, dy, db);
  if (!dx && !dw) return;
  if (conv_prefers_direct(s)) {
    conv_direct_backward(s, x, w, dy, dx, dw);
    return;
  }
  if (prefers_winograd(s, omp_get_max_threads())) {
    conv_winograd_backward(s, x, w, dy, dx, dw, ws, ws_bytes);
    return;
  }
  const Plan p = make_plan(s, sizeof(T), omp_get_max_threads());
  check_workspace(s, p, ws_bytes, ws);
  if (p.threads == 1) {
    const bool parallel = omp_get_max_threads() > 1 && !omp_in_parallel() && worth_threads(s);
    for (int64_t c = 0; c < p.chunks; ++c) {
      const int64_t s0 = c * p.nb;
      backward_chunk(s, p, s0, std::min(p.nb, s.n - s0), x, w, dy, dx, dw, T(1),
                     thread_scratch<T>(p, ws, 0), parallel);
    }
    return;
  }
  const int64_t wn = s.w_numel();
#pragma omp parallel num_threads(p.threads)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    int64_t begin, end;
    chunk_range(p, t, nt, begin, end);
    const Scratch<T> sc = thread_scratch<T>(p, ws, t);
    // Thread 0 accumulates straight into dw; the others into private sums added below.
    T* my_dw = dw && t > 0 ? thread_dw<T>(p, ws, t) : dw;
    for (int64_t c = begin; c < end; ++c) {
      const int64_t s0 = c * p.nb;
      const T beta = t > 0 && c == begin ? T(0) : T(1);
      backward_chunk(s, p, s0, std::min(p.nb, s.n - s0), x, w, dy, dx, my_dw, beta, sc, false);
    }
    if (dw) {
#pragma omp barrier
      // dw += the other threads' sums, in thread order; threads without chunks wrote nothing.
      for (int u = 1; u < nt; ++u) {
        int64_t b, en;
        chunk_range(p, u, nt, b, en);
        if (en <= b) continue;
        const T* part = thread_dw<T>(p, ws, u);
#pragma omp for simd schedule(static)
        for (int64_t e = 0; e < wn; ++e)
          dw[e] += part[e];
      }
    }
  }
}

template void conv_forward<float>(const ConvShape&, const float*, const float*, const float*,
                                  float*, void*, size_t);
template void conv_forward<double>(const ConvShape&, const double*, const double*, const double*,
                                   double*, void*, size_t);
template void conv_backward<float>(const ConvShape&, const float*, const float*, const float*,
                                   float*, float*, float*, void*, size_t);
template void conv_backward<double>(const ConvShape&, const double*, const double*, const double*,
                                    double*, double*, double*, void*, size_t);
template void conv_backward_bias<float>(const ConvShape&, const float*, float*);
template void conv_backward_bias<double>(const ConvShape&, const double*, double*);

}  // namespace nsal::kernels::cpu

#include "kernels/cpu/conv_cpu.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "kernels/cpu/blas_gemm.h"
#include "kernels/cpu/conv_direct.h"
#include "kernels/cpu/conv_lanes.h"
#include "kernels/cpu/conv_winograd.h"
#include "kernels/cpu/im2col.h"
#include "kernels/cpu/scratch_layout.h"
#include "kernels/error.h"

namespace nsal::kernels::cpu {
namespace {

std::atomic<bool> g_winograd{true};

// Winograd where it was measured faster than im2col + GEMM (ResNet-18-CIFAR widths, batch 1 to
// 128, 2 threads): enough tiles to pay for transforming the filter (16 C K kd values per call),
// and 8 channels or more. A function of the shape alone: the two paths differ in the last bits,
// and results must not depend on the thread count.
bool prefers_winograd(const ConvShape& s) {
  if (!g_winograd.load(std::memory_order_relaxed) || !conv_winograd_applies(s)) return false;
  const ConvShape p = conv_winograd_plain_shape(s);  // a dilated plane's phases
  const int64_t tiles = p.n * p.in[0] * ((p.in[1] + 1) / 2) * ((p.in[2] + 1) / 2);
  return tiles >= 512 && std::min(p.c, p.k) >= 8;
}

// Columns per GEMM: fewer waste time on call overhead and on packing the filter, more let the
// column matrix and BLAS's packed copy of it fall out of the L2 cache (256 to 384 measured best
// on a 2 MiB-L2 Xeon at ResNet-18 shapes). Small outputs put several samples side by side, large
// ones are cut into bands of output lines.
constexpr int64_t kTargetCols = 256;
// Upper bound on one thread's column matrix (elements), whatever kTargetCols asks for.
constexpr int64_t kMaxColElems = int64_t{1} << 22;

// The plan's chunks and bands are a function of the shape alone: BLAS rounds an output element
// differently depending on where it falls in its register tiles, so the GEMM calls must not
// change with the thread count, and every GEMM runs on one thread (blas_gemm.h). The threads
// only share out the chunks, a team of up to one thread per chunk (tests/test_conv_threads.cpp
// checks the bits on 1 to 5 threads).
struct Plan {
  int threads = 1;  // team of the chunk loop; 1: chunks in sequence (im2col shared out)
  int64_t nb = 1;   // samples per chunk
  int64_t chunks = 0;
  int64_t band_lines = 1;   // output lines per GEMM when nb == 1 (all of them when nb > 1)
  int64_t cols = 0;         // widest GEMM: nb * out_size or band_lines * OW
  int64_t col_elems = 0;    // per thread: (col_rows, cols)
  int64_t buf_elems = 0;    // per thread: (K / groups, cols) when nb > 1
  size_t thread_bytes = 0;  // per thread: col + buf, aligned
  size_t total_bytes = 0;
};

Plan make_plan(const ConvShape& s, size_t elem, int threads) {
  Plan p;
  if (threads <= 0) threads = omp_get_max_threads();
  if (s.n == 0 || conv_prefers_direct(s)) return p;  // the direct path needs no workspace
  const int64_t out = s.out_size(), lines = conv_out_lines(s), ow = s.out_dim(2);
  const int64_t rows = s.col_rows();
  if (2 * out >= kTargetCols || s.n == 1) {
    p.nb = 1;
    int64_t band = std::max<int64_t>(1, (kTargetCols + ow / 2) / ow);
    band = std::min({band, lines, std::max<int64_t>(1, kMaxColElems / (rows * ow))});
    p.band_lines = ceil_div(lines, ceil_div(lines, band));  // equal bands
  } else {
    int64_t want =
        std::min(ceil_div(kTargetCols, out), std::max<int64_t>(1, kMaxColElems / (rows * out)));
    want = std::min(want, ceil_div(s.n, kMinChunks));
    p.nb = ceil_div(s.n, ceil_div(s.n, want));  // chunks of (nearly) the same size
    p.band_lines = lines;
  }
  p.chunks = ceil_div(s.n, p.nb);
  p.threads = threads > 1 && p.chunks > 1 && worth_threads(s)
                  ? static_cast<int>(std::min<int64_t>(threads, p.chunks))
                  : 1;
  p.cols = p.nb * p.band_lines * ow;
  p.col_elems = s.is_pointwise() && p.nb == 1 ? 0 : rows * p.cols;
  p.buf_elems = p.nb > 1 ? s.k_per_group() * p.cols : 0;
  p.thread_bytes = align_up(static_cast<size_t>(p.col_elems) * elem) +
                   align_up(static_cast<size_t>(p.buf_elems) * elem);
  p.total_bytes = p.thread_bytes * static_cast<size_t>(p.threads);
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

void check_workspace(const ConvShape& s, size_t need, size_t ws_bytes, const void* ws) {
  NSAL_CHECK_AS(ShapeError, ws_bytes >= need && (ws != nullptr || need == 0),
                "{}: the workspace holds {} bytes, {} needed (conv_workspace_bytes with {} "
                "threads)",
                s.str(), ws_bytes, need, omp_get_max_threads());
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

// dx of the chunk's samples (overwritten).
template <typename T>
void input_gradient_chunk(const ConvShape& s, const Plan& p, int64_t s0, int64_t m, const T* w,
                          const T* dy, T* dx, Scratch<T> sc, bool parallel) {
  const int64_t kg = s.k_per_group(), cg = s.c_per_group(), rows = s.col_rows();
  const int64_t in = s.in_size(), out = s.out_size();
  const bool direct = s.is_pointwise() && m == 1;
  for (int64_t g = 0; g < s.groups; ++g) {
    const T* wg = w + g * kg * rows;
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
      if (direct) {
        blas_gemm(true, false, cg, cols, kg, wg, rows, dyg, ld, T(0),
                  dx + (s0 * s.c + g * cg) * in + q0, in);
      } else {
        blas_gemm(true, false, rows, cols, kg, wg, rows, dyg, ld, T(0), sc.col, cols);
        col2im_block(s, sc.col, b, g, dx, parallel);
      }
    });
  }
}

// The filter gradient. Its plan is a function of the shape alone, so that every element of dw
// is the same sum in the same order on any number of threads. The batch's chunks (those of any
// thread count) are dealt into `lanes` runs of consecutive chunks, and dw into blocks of input
// channels (rows of the column matrix) times blocks of output channels. A task is one lane and
// one block: it goes through the lane's chunks in order, im2col of the block's channels and one
// GEMM each, accumulating (beta 1) into the block: lane 0 straight into dw, the others into
// partial sums of their own, which are then added to dw in lane order. The threads share out the
// tasks. Small filters take lanes (the partial sums cost little), large ones blocks (which cost
// GEMM width, and im2col once per block of output channels).
constexpr int64_t kFilterTasks = kMaxLanes;  // lanes x blocks, at least
constexpr int64_t kMinBlockRows = 64;
constexpr int64_t kMinBlockK = 32;

struct FilterPlan {
  Plan chunks;  // one thread's plan: the same chunks as on any thread count
  int64_t lanes = 1;
  int64_t block_c = 1, blocks_c = 1;  // input channels per block, blocks per group
  int64_t block_k = 1, blocks_k = 1;  // output channels per block, blocks per group
  int64_t blocks = 1;                 // groups x blocks_c x blocks_k
  int64_t tasks = 0;                  // lanes x blocks
  int64_t col_elems = 0;              // per thread: (block_c x kernel_size, cols)
  int64_t buf_elems = 0;              // per thread: (block_k, cols) when nb > 1
  int threads = 1;
  size_t partial_bytes = 0;  // one lane's partial sum (lanes 1 and up; after the threads' scratch)
  size_t thread_bytes = 0, total_bytes = 0;
};

FilterPlan make_filter_plan(const ConvShape& s, size_t elem, int threads) {
  FilterPlan f;
  if (threads <= 0) threads = omp_get_max_threads();
  if (s.n == 0 || conv_prefers_direct(s)) return f;
  f.chunks = make_plan(s, elem, 1);
  const int64_t cg = s.c_per_group(), kg = s.k_per_group(), taps = s.kernel_size();
  f.partial_bytes = align_up(static_cast<size_t>(s.w_numel()) * elem);
  f.lanes = lane_count(f.chunks.chunks, f.partial_bytes, 1);
  const int64_t want = ceil_div(kFilterTasks, f.lanes * s.groups);  // blocks per group
  const int64_t want_c = std::clamp<int64_t>(s.col_rows() / kMinBlockRows, 1, std::min(cg, want));
  f.block_c = ceil_div(cg, want_c);
  f.blocks_c = ceil_div(cg, f.block_c);
  const int64_t want_k =
      std::clamp<int64_t>(ceil_div(want, f.blocks_c), 1, std::max<int64_t>(1, kg / kMinBlockK));
  f.block_k = ceil_div(kg, want_k);
  f.blocks_k = ceil_div(kg, f.block_k);
  f.blocks = s.groups * f.blocks_c * f.blocks_k;
  f.tasks = f.lanes * f.blocks;
  const bool wide = f.chunks.nb > 1;
  f.col_elems = s.is_pointwise() && !wide ? 0 : f.block_c * taps * f.chunks.cols;
  f.buf_elems = wide ? f.block_k * f.chunks.cols : 0;
  f.threads =
      threads > 1 && worth_threads(s) ? static_cast<int>(std::min<int64_t>(threads, f.tasks)) : 1;
  f.thread_bytes = align_up(static_cast<size_t>(f.col_elems) * elem) +
                   align_up(static_cast<size_t>(f.buf_elems) * elem);
  f.total_bytes = f.thread_bytes * static_cast<size_t>(f.threads) +
                  f.partial_bytes * static_cast<size_t>(f.lanes - 1);
  return f;
}

// The scratch of every im2col call for s: the chunk plan's or the filter gradient's, the larger.
size_t im2col_workspace_bytes(const ConvShape& s, size_t elem, int threads) {
  return std::max(make_plan(s, elem, threads).total_bytes,
                  make_filter_plan(s, elem, threads).total_bytes);
}

template <typename T>
T* lane_sum(const FilterPlan& f, void* ws, int64_t lane) {  // lane >= 1
  return reinterpret_cast<T*>(static_cast<char*>(ws) +
                              f.thread_bytes * static_cast<size_t>(f.threads) +
                              f.partial_bytes * static_cast<size_t>(lane - 1));
}

// sum[block of the task] (+)= the block's share of the correlation of x with dy over the lane's
// chunks; `sum` is dw for lane 0 (accumulated onto) and the lane's partial sum otherwise
// (overwritten by the first GEMM).
template <typename T>
void filter_gradient_task(const ConvShape& s, const FilterPlan& f, int64_t task, const T* x,
                          const T* dy, T* sum, T* col, T* buf) {
  const int64_t cg = s.c_per_group(), kg = s.k_per_group(), taps = s.kernel_size();
  const int64_t rows = s.col_rows(), in = s.in_size(), out = s.out_size();
  const int64_t lane = task / f.blocks, block = task % f.blocks;
  const int64_t g = block / (f.blocks_c * f.blocks_k);
  const int64_t c0 = block / f.blocks_k % f.blocks_c * f.block_c, nc = std::min(f.block_c, cg - c0);
  const int64_t k0 = block % f.blocks_k * f.block_k, nk = std::min(f.block_k, kg - k0);
  T* sb = sum + (g * kg + k0) * rows + c0 * taps;  // (nk, nc x taps), row stride rows
  T beta = lane == 0 ? T(1) : T(0);
  const Plan& p = f.chunks;
  int64_t begin, end;
  part_range(p.chunks, f.lanes, lane, begin, end);
  for (int64_t c = begin; c < end; ++c) {
    const int64_t s0 = c * p.nb, m = std::min(p.nb, s.n - s0);
    for_each_block(s, p, s0, m, [&](const Block& b) {
      const int64_t cols = b.cols(s), q0 = b.q0(s), per_sample = cols / m;
      const T* a = dy + (s0 * s.k + g * kg + k0) * out + q0;  // (nk, cols), row stride lda
      int64_t lda = out;
      if (m > 1) {  // (m, nk, out) -> (nk, m, out)
        for (int64_t i = 0; i < m; ++i)
          for (int64_t k = 0; k < nk; ++k)
            std::memcpy(buf + k * cols + i * out, dy + ((s0 + i) * s.k + g * kg + k0 + k) * out,
                        static_cast<size_t>(out) * sizeof(T));
        a = buf;
        lda = cols;
      }
      const T* xb = x + (s0 * s.c + g * cg + c0) * in;  // first channel of the block
      const T* bm = col;                                // (nc x taps, cols), row stride ldb
      int64_t ldb = cols;
      if (s.is_pointwise() && m == 1) {
        bm = xb + q0;
        ldb = in;
      } else {
        for (int64_t i = 0; i < m; ++i)
          for (int64_t ch = 0; ch < nc; ++ch)
            im2col(s, 1, xb + (i * s.c + ch) * in, col + ch * taps * cols + i * per_sample, cols,
                   b.l0, b.l1);
      }
      blas_gemm(false, true, nk, nc * taps, cols, a, lda, bm, ldb, beta, sb, rows);
      beta = T(1);
    });
  }
}

template <typename T>
void filter_gradient(const ConvShape& s, const T* x, const T* dy, T* dw, void* ws) {
  const FilterPlan f = make_filter_plan(s, sizeof(T), omp_get_max_threads());
  const int64_t wn = s.w_numel();
#pragma omp parallel num_threads(f.threads) if (f.threads > 1)
  {
    char* base =
        static_cast<char*>(ws) + f.thread_bytes * static_cast<size_t>(omp_get_thread_num());
    T* col = reinterpret_cast<T*>(base);
    T* buf = reinterpret_cast<T*>(base + align_up(static_cast<size_t>(f.col_elems) * sizeof(T)));
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < f.tasks; ++task) {
      const int64_t lane = task / f.blocks;
      filter_gradient_task(s, f, task, x, dy, lane == 0 ? dw : lane_sum<T>(f, ws, lane), col, buf);
    }
    if (f.lanes > 1)  // dw += the lanes' sums (every lane has chunks)
      add_lanes_in_order(dw, wn, f.lanes, [&](int64_t l) { return lane_sum<T>(f, ws, l); });
  }
}

}  // namespace

void set_conv_winograd(bool enabled) {
  g_winograd.store(enabled, std::memory_order_relaxed);
}

bool conv_winograd_enabled() {
  return g_winograd.load(std::memory_order_relaxed);
}

bool conv_uses_winograd(const ConvShape& s) {
  return prefers_winograd(s);
}

size_t conv_workspace_bytes(const ConvShape& s, size_t elem_bytes, int threads) {
  s.validate();
  if (threads <= 0) threads = omp_get_max_threads();
  if (prefers_winograd(s)) return conv_winograd_workspace_bytes(s, elem_bytes, threads);
  return im2col_workspace_bytes(s, elem_bytes, threads);
}

template <typename T>
void conv_forward(const ConvShape& s, const T* x, const T* w, const T* bias, T* y, void* ws,
                  size_t ws_bytes) {
  s.validate();
  if (conv_prefers_direct(s)) {
    conv_direct_forward(s, x, w, bias, y);
    return;
  }
  if (prefers_winograd(s)) {
    conv_winograd_forward(s, x, w, bias, y, ws, ws_bytes);
    return;
  }
  const Plan p = make_plan(s, sizeof(T), omp_get_max_threads());
  check_workspace(s, im2col_workspace_bytes(s, sizeof(T), omp_get_max_threads()), ws_bytes, ws);
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
    part_range(p.chunks, omp_get_num_threads(), t, begin, end);
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
  if (prefers_winograd(s)) {
    conv_winograd_backward(s, x, w, dy, dx, dw, ws, ws_bytes);
    return;
  }
  check_workspace(s, im2col_workspace_bytes(s, sizeof(T), omp_get_max_threads()), ws_bytes, ws);
  if (dw) filter_gradient(s, x, dy, dw, ws);
  if (!dx) return;
  const Plan p = make_plan(s, sizeof(T), omp_get_max_threads());
  if (p.threads == 1) {
    const bool parallel = omp_get_max_threads() > 1 && !omp_in_parallel() && worth_threads(s);
    for (int64_t c = 0; c < p.chunks; ++c) {
      const int64_t s0 = c * p.nb;
      input_gradient_chunk(s, p, s0, std::min(p.nb, s.n - s0), w, dy, dx,
                           thread_scratch<T>(p, ws, 0), parallel);
    }
    return;
  }
#pragma omp parallel num_threads(p.threads)
  {
    int64_t begin, end;
    part_range(p.chunks, omp_get_num_threads(), omp_get_thread_num(), begin, end);
    const Scratch<T> sc = thread_scratch<T>(p, ws, omp_get_thread_num());
    for (int64_t c = begin; c < end; ++c) {
      const int64_t s0 = c * p.nb;
      input_gradient_chunk(s, p, s0, std::min(p.nb, s.n - s0), w, dy, dx, sc, false);
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

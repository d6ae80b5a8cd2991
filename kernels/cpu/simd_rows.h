// AVX-512 helpers for the convolution loops: one register of float or double (Simd<T>), and
// VectorRow, which moves one output line (OW positions, stride 1 or 2 along the width) between
// registers and an input line. Compiled only where the compiler targets AVX-512; callers keep a
// portable path for the rest.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace nsal::kernels::cpu {

// The output positions o in [0, out) whose input index o * stride + offset lies in [0, in).
struct ValidRange {
  int64_t lo, hi;
};

inline ValidRange valid_range(int64_t offset, int64_t stride, int64_t in, int64_t out) {
  int64_t lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  int64_t hi = in - 1 - offset < 0 ? 0 : (in - 1 - offset) / stride + 1;
  lo = std::min(lo, out);
  hi = std::min(hi, out);
  return {lo, std::max(lo, hi)};
}

#if defined(__AVX512F__)
// Sum of the lanes of a register in a fixed order (pairwise), whatever the compiler.
template <typename T, int64_t L, typename V>
inline T sum_lanes(V a) {
  alignas(64) T t[L];
  std::memcpy(t, &a, sizeof(t));
  for (int64_t w = L / 2; w >= 1; w /= 2)
    for (int64_t i = 0; i < w; ++i)
      t[i] += t[i + w];
  return t[0];
}

// One AVX-512 register of T, with lane masks.
template <typename T>
struct Simd;
template <>
struct Simd<float> {
  using V = __m512;
  using M = __mmask16;
  static constexpr int64_t L = 16;
  static V load(M m, const float* p) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(float* p, M m, V v) { _mm512_mask_storeu_ps(p, m, v); }
  static V zero() { return _mm512_setzero_ps(); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V set1(float a) { return _mm512_set1_ps(a); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }  // a * b + c
  static float sum(V a) { return sum_lanes<float, L>(a); }
  // Lanes 0, 2, 4, ... of the 2L lanes of (a, b), lanes outside m zeroed.
  static V even(M m, V a, V b) {
    const __m512i idx =
        _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return _mm512_maskz_permutex2var_ps(m, a, idx, b);
  }
  // (v0, 0, v1, 0, ...) from the first / second half of v.
  static V spread_lo(V v) {
    const __m512i idx = _mm512_setr_epi32(0, 16, 1, 16, 2, 16, 3, 16, 4, 16, 5, 16, 6, 16, 7, 16);
    return _mm512_permutex2var_ps(v, idx, zero());
  }
  static V spread_hi(V v) {
    const __m512i idx =
        _mm512_setr_epi32(8, 16, 9, 16, 10, 16, 11, 16, 12, 16, 13, 16, 14, 16, 15, 16);
    return _mm512_permutex2var_ps(v, idx, zero());
  }
};
template <>
struct Simd<double> {
  using V = __m512d;
  using M = __mmask8;
  static constexpr int64_t L = 8;
  static V load(M m, const double* p) { return _mm512_maskz_loadu_pd(m, p); }
  static void store(double* p, M m, V v) { _mm512_mask_storeu_pd(p, m, v); }
  static V zero() { return _mm512_setzero_pd(); }
  static V add(V a, V b) { return _mm512_add_pd(a, b); }
  static V set1(double a) { return _mm512_set1_pd(a); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static double sum(V a) { return sum_lanes<double, L>(a); }
  static V even(M m, V a, V b) {
    const __m512i idx = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
    return _mm512_maskz_permutex2var_pd(m, a, idx, b);
  }
  static V spread_lo(V v) {
    const __m512i idx = _mm512_setr_epi64(0, 8, 1, 8, 2, 8, 3, 8);
    return _mm512_permutex2var_pd(v, idx, zero());
  }
  static V spread_hi(V v) {
    const __m512i idx = _mm512_setr_epi64(4, 8, 5, 8, 6, 8, 7, 8);
    return _mm512_permutex2var_pd(v, idx, zero());
  }
};

// Mask of the lanes j in [lo, hi) of an L-lane register (any lo, hi).
template <typename M, int64_t L>
inline M lanes(int64_t lo, int64_t hi) {
  lo = std::max<int64_t>(lo, 0);
  hi = std::min<int64_t>(hi, L);
  if (hi <= lo) return 0;
  const uint64_t upto_hi = hi >= 64 ? ~uint64_t{0} : (uint64_t{1} << hi) - 1;
  return static_cast<M>(upto_hi & ~((uint64_t{1} << lo) - 1));
}

// Lines up to this many registers wide take the vector paths.
constexpr int64_t kMaxVectors = 8;

// One output line against one input line, for a fixed filter column: output position o of the
// line meets input position o * stride + off (stride 1 or 2), and exists for o in r. Register v
// holds outputs [v L, v L + L). Input lanes outside the line are masked off, so they read as zero
// and are never touched in memory. The masks depend only on the filter column: build a VectorRow
// once and use it for every line.
template <typename T>
struct VectorRow {
  using S = Simd<T>;
  using V = typename S::V;
  using M = typename S::M;
  static constexpr int64_t L = S::L;
  int64_t nv = 0, off = 0, sw = 1;
  M out[kMaxVectors];                          // lanes of register v inside the line
  M valid[kMaxVectors];                        // lanes whose input exists
  M src_a[kMaxVectors], src_b[kMaxVectors];    // stride 2: input lanes inside the input line
  M even_a[kMaxVectors], even_b[kMaxVectors];  // stride 2, scatter: input lanes written

  static bool supports(int64_t ow, int64_t stride) {
    return (stride == 1 || stride == 2) && ow <= kMaxVectors * L;
  }
  VectorRow() = default;
  VectorRow(int64_t ow, int64_t w, int64_t stride, int64_t offset, ValidRange r)
      : nv((ow + L - 1) / L), off(offset), sw(stride) {
    for (int64_t v = 0; v < nv; ++v) {
      const int64_t o0 = v * L;  // first output of register v
      out[v] = lanes<M, L>(0, ow - o0);
      valid[v] = lanes<M, L>(r.lo - o0, r.hi - o0);
      const int64_t i0 = off + 2 * o0;  // stride 2: inputs i0 + j, j in [0, 2L)
      src_a[v] = lanes<M, L>(-i0, w - i0);
      src_b[v] = lanes<M, L>(-i0 - L, w - i0 - L);
      const int64_t e_lo = 2 * (r.lo - o0), e_hi = 2 * (r.hi - o0) - 1;
      const M even = static_cast<M>(0x5555555555555555ull);
      even_a[v] = static_cast<M>(lanes<M, L>(e_lo, e_hi) & even);
      even_b[v] = static_cast<M>(lanes<M, L>(e_lo - L, e_hi - L) & even);
    }
  }
  // The inputs of output register v (zero where they do not exist).
  V gather(const T* x_line, int64_t v) const {
    if (sw == 1) return S::load(valid[v], x_line + off + v * L);
    const T* p = x_line + off + 2 * v * L;
    return S::even(valid[v], S::load(src_a[v], p), S::load(src_b[v], p + L));
  }
  // x_line[inputs of register v] += c (lanes whose input does not exist are dropped).
  void scatter_add(T* x_line, int64_t v, V c) const {
    if (sw == 1) {
      T* p = x_line + off + v * L;
      S::store(p, valid[v], S::add(S::load(valid[v], p), c));
      return;
    }
    T* p = x_line + off + 2 * v * L;
    if (even_a[v]) S::store(p, even_a[v], S::add(S::load(even_a[v], p), S::spread_lo(c)));
    if (even_b[v]) S::store(p + L, even_b[v], S::add(S::load(even_b[v], p + L), S::spread_hi(c)));
  }
};
#endif  // __AVX512F__

}  // namespace nsal::kernels::cpu

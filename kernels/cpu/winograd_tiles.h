// The tile transforms of Winograd F(2x2, 3x3) (conv_winograd.cpp) for one (h, w) plane, with
// zero padding 1 on every side. Tile (ty, tx) of a plane covers output lines 2 ty, 2 ty + 1 and
// columns 2 tx, 2 tx + 1, and reads input lines 2 ty - 1 .. 2 ty + 2, columns 2 tx - 1 .. 2 tx + 2.
// Transformed values go to t[xi * xs + ty * tw + tx] for the 16 points xi = 4 a + b.
//
//   input:    V = B^T d B   (d: 4x4 input tile)      B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
//   output:   Y = A^T M A   (Y: 2x2 output tile)     A^T = [1 1 1 0; 0 1 -1 -1]
//   gradient: Z = A dY A^T  (dY: 2x2 output-gradient tile, the filter gradient's transform)
//
// The plain loops serve any element type; float has AVX-512 versions that take 16 tiles of a
// line per register (same sums in the same order, so the same results).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace nsal::kernels::cpu::winograd {

struct TileGrid {
  int64_t h = 0, w = 0;    // plane
  int64_t th = 0, tw = 0;  // tile lines and columns: ceil(h / 2), ceil(w / 2)
  int64_t tiles() const { return th * tw; }
  // Elements of scratch the plain loops need.
  int64_t scratch_elems() const { return (2 * th + 2) * 4 * tw + 2 * tw + 2; }
};

// ---- plain loops ----------------------------------------------------------------------------

template <typename T>
void input_tiles(const TileGrid& g, const T* plane, T* v, int64_t xs, T* scratch) {
  const int64_t tw = g.tw, lines = 2 * g.th + 2;
  T* hrow = scratch;                   // (lines, 4, tw): every input line times B
  T* line = scratch + lines * 4 * tw;  // one padded input line: x[-1 .. 2 tw]
  for (int64_t r = 0; r < lines; ++r) {
    T* hr = hrow + r * 4 * tw;
    const int64_t y = r - 1;
    if (y < 0 || y >= g.h) {
      std::fill(hr, hr + 4 * tw, T(0));
      continue;
    }
    line[0] = T(0);
    std::memcpy(line + 1, plane + y * g.w, static_cast<size_t>(g.w) * sizeof(T));
    std::fill(line + g.w + 1, line + 2 * tw + 2, T(0));
    for (int64_t tx = 0; tx < tw; ++tx) {
      const T d0 = line[2 * tx], d1 = line[2 * tx + 1], d2 = line[2 * tx + 2],
              d3 = line[2 * tx + 3];
      hr[tx] = d0 - d2;
      hr[tw + tx] = d1 + d2;
      hr[2 * tw + tx] = d2 - d1;
      hr[3 * tw + tx] = d1 - d3;
    }
  }
  for (int64_t ty = 0; ty < g.th; ++ty)
    for (int64_t b = 0; b < 4; ++b) {
      const T* r0 = hrow + (2 * ty) * 4 * tw + b * tw;
      const T* r1 = r0 + 4 * tw;
      const T* r2 = r1 + 4 * tw;
      const T* r3 = r2 + 4 * tw;
      T* out = v + ty * tw;
      for (int64_t tx = 0; tx < tw; ++tx) {
        out[b * xs + tx] = r0[tx] - r2[tx];
        out[(4 + b) * xs + tx] = r1[tx] + r2[tx];
        out[(8 + b) * xs + tx] = r2[tx] - r1[tx];
        out[(12 + b) * xs + tx] = r1[tx] - r3[tx];
      }
    }
}

template <typename T>
void output_tiles(const TileGrid& g, const T* m, int64_t xs, T bias, T* plane, T* /*scratch*/) {
  for (int64_t ty = 0; ty < g.th; ++ty)
    for (int64_t tx = 0; tx < g.tw; ++tx) {
      const T* q = m + ty * g.tw + tx;
      T t0[4], t1[4];
      for (int b = 0; b < 4; ++b) {
        const T m0 = q[b * xs], m1 = q[(4 + b) * xs], m2 = q[(8 + b) * xs], m3 = q[(12 + b) * xs];
        t0[b] = m0 + m1 + m2;
        t1[b] = m1 - m2 - m3;
      }
      const T y[2][2] = {{t0[0] + t0[1] + t0[2] + bias, t0[1] - t0[2] - t0[3] + bias},
                         {t1[0] + t1[1] + t1[2] + bias, t1[1] - t1[2] - t1[3] + bias}};
      for (int64_t i = 0; i < 2 && 2 * ty + i < g.h; ++i)
        for (int64_t j = 0; j < 2 && 2 * tx + j < g.w; ++j)
          plane[(2 * ty + i) * g.w + 2 * tx + j] = y[i][j];
    }
}

template <typename T>
void gradient_tiles(const TileGrid& g, const T* plane, T* z, int64_t xs, T* /*scratch*/) {
  for (int64_t ty = 0; ty < g.th; ++ty)
    for (int64_t tx = 0; tx < g.tw; ++tx) {
      T d[2][2];
      for (int64_t i = 0; i < 2; ++i)
        for (int64_t j = 0; j < 2; ++j) {
          const int64_t y = 2 * ty + i, x = 2 * tx + j;
          d[i][j] = y < g.h && x < g.w ? plane[y * g.w + x] : T(0);
        }
      T r[2][4];  // each line times A^T
      for (int i = 0; i < 2; ++i) {
        r[i][0] = d[i][0];
        r[i][1] = d[i][0] + d[i][1];
        r[i][2] = d[i][0] - d[i][1];
        r[i][3] = T(0) - d[i][1];
      }
      T* out = z + ty * g.tw + tx;
      for (int b = 0; b < 4; ++b) {
        out[b * xs] = r[0][b];
        out[(4 + b) * xs] = r[0][b] + r[1][b];
        out[(8 + b) * xs] = r[0][b] - r[1][b];
        out[(12 + b) * xs] = T(0) - r[1][b];
      }
    }
}

// ---- AVX-512, float: 16 tiles of a tile line per register ----------------------------------

#if defined(__AVX512F__)
namespace avx512 {

inline __mmask16 first_lanes(int64_t n) {
  return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}

// Columns col .. col + 15 of a line w long; those outside [0, w) read as zero (masked, so
// nothing outside the line is touched).
inline __m512 load_columns(const float* line, int64_t w, int64_t col) {
  const __mmask16 m = first_lanes(w - col) & __mmask16(~first_lanes(-col));
  return m ? _mm512_maskz_loadu_ps(m, line + col) : _mm512_setzero_ps();
}

inline __m512i even_lanes() {
  return _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
}
inline __m512i odd_lanes() {
  return _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
}

// Input line y times B for tiles tx0 .. tx0 + 15: h[b][t] for columns 2 (tx0 + t) - 1 + 0..3.
inline void line_times_b(const TileGrid& g, const float* plane, int64_t y, int64_t tx0,
                         __m512 (&h)[4]) {
  if (y < 0 || y >= g.h) {
    for (auto& r : h)
      r = _mm512_setzero_ps();
    return;
  }
  const float* line = plane + y * g.w;
  const int64_t c0 = 2 * tx0 - 1;
  const __m512i ev = even_lanes(), od = odd_lanes();
  const __m512 a = load_columns(line, g.w, c0), b = load_columns(line, g.w, c0 + 16);
  const __m512 c = load_columns(line, g.w, c0 + 2), d = load_columns(line, g.w, c0 + 18);
  const __m512 d0 = _mm512_permutex2var_ps(a, ev, b), d1 = _mm512_permutex2var_ps(a, od, b);
  const __m512 d2 = _mm512_permutex2var_ps(c, ev, d), d3 = _mm512_permutex2var_ps(c, od, d);
  h[0] = _mm512_sub_ps(d0, d2);
  h[1] = _mm512_add_ps(d1, d2);
  h[2] = _mm512_sub_ps(d2, d1);
  h[3] = _mm512_sub_ps(d1, d3);
}

}  // namespace avx512

inline void input_tiles(const TileGrid& g, const float* plane, float* v, int64_t xs,
                        float* /*scratch*/) {
  using namespace avx512;
  for (int64_t tx0 = 0; tx0 < g.tw; tx0 += 16) {
    const __mmask16 m = first_lanes(g.tw - tx0);
    __m512 r0[4], r1[4], r2[4], r3[4];
    line_times_b(g, plane, -1, tx0, r0);
    line_times_b(g, plane, 0, tx0, r1);
    for (int64_t ty = 0; ty < g.th; ++ty) {
      line_times_b(g, plane, 2 * ty + 1, tx0, r2);
      line_times_b(g, plane, 2 * ty + 2, tx0, r3);
      float* out = v + ty * g.tw + tx0;
      for (int b = 0; b < 4; ++b) {
        _mm512_mask_storeu_ps(out + b * xs, m, _mm512_sub_ps(r0[b], r2[b]));
        _mm512_mask_storeu_ps(out + (4 + b) * xs, m, _mm512_add_ps(r1[b], r2[b]));
        _mm512_mask_storeu_ps(out + (8 + b) * xs, m, _mm512_sub_ps(r2[b], r1[b]));
        _mm512_mask_storeu_ps(out + (12 + b) * xs, m, _mm512_sub_ps(r1[b], r3[b]));
      }
      for (int b = 0; b < 4; ++b) {  // the next tile line starts two input lines down
        r0[b] = r2[b];
        r1[b] = r3[b];
      }
    }
  }
}

inline void output_tiles(const TileGrid& g, const float* m, int64_t xs, float bias, float* plane,
                         float* /*scratch*/) {
  using namespace avx512;
  const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i hi =
      _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const __m512 vb = _mm512_set1_ps(bias);
  for (int64_t tx0 = 0; tx0 < g.tw; tx0 += 16) {
    const __mmask16 mk = first_lanes(g.tw - tx0);
    const int64_t c0 = 2 * tx0;
    const __mmask16 m_lo = first_lanes(g.w - c0), m_hi = first_lanes(g.w - c0 - 16);
    for (int64_t ty = 0; ty < g.th; ++ty) {
      const float* q = m + ty * g.tw + tx0;
      __m512 t0[4], t1[4];
      for (int b = 0; b < 4; ++b) {
        const __m512 m0 = _mm512_maskz_loadu_ps(mk, q + b * xs);
        const __m512 m1 = _mm512_maskz_loadu_ps(mk, q + (4 + b) * xs);
        const __m512 m2 = _mm512_maskz_loadu_ps(mk, q + (8 + b) * xs);
        const __m512 m3 = _mm512_maskz_loadu_ps(mk, q + (12 + b) * xs);
        t0[b] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
        t1[b] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
      }
      const __m512* t[2] = {t0, t1};
      for (int64_t i = 0; i < 2 && 2 * ty + i < g.h; ++i) {
        const __m512* r = t[i];
        const __m512 e =
            _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(r[0], r[1]), r[2]), vb);  // even columns
        const __m512 o =
            _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(r[1], r[2]), r[3]), vb);  // odd columns
        float* out = plane + (2 * ty + i) * g.w + c0;
        _mm512_mask_storeu_ps(out, m_lo, _mm512_permutex2var_ps(e, lo, o));
        if (m_hi) _mm512_mask_storeu_ps(out + 16, m_hi, _mm512_permutex2var_ps(e, hi, o));
      }
    }
  }
}

inline void gradient_tiles(const TileGrid& g, const float* plane, float* z, int64_t xs,
                           float* /*scratch*/) {
  using namespace avx512;
  const __m512i ev = even_lanes(), od = odd_lanes();
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t tx0 = 0; tx0 < g.tw; tx0 += 16) {
    const __mmask16 mk = first_lanes(g.tw - tx0);
    const int64_t c0 = 2 * tx0;
    for (int64_t ty = 0; ty < g.th; ++ty) {
      __m512 r[2][4];  // each line times A^T
      for (int64_t i = 0; i < 2; ++i) {
        const int64_t y = 2 * ty + i;
        __m512 a = zero, b = zero;
        if (y < g.h) {
          const float* line = plane + y * g.w;
          const __m512 p = load_columns(line, g.w, c0), q = load_columns(line, g.w, c0 + 16);
          a = _mm512_permutex2var_ps(p, ev, q);
          b = _mm512_permutex2var_ps(p, od, q);
        }
        r[i][0] = a;
        r[i][1] = _mm512_add_ps(a, b);
        r[i][2] = _mm512_sub_ps(a, b);
        r[i][3] = _mm512_sub_ps(zero, b);
      }
      float* out = z + ty * g.tw + tx0;
      for (int b = 0; b < 4; ++b) {
        _mm512_mask_storeu_ps(out + b * xs, mk, r[0][b]);
        _mm512_mask_storeu_ps(out + (4 + b) * xs, mk, _mm512_add_ps(r[0][b], r[1][b]));
        _mm512_mask_storeu_ps(out + (8 + b) * xs, mk, _mm512_sub_ps(r[0][b], r[1][b]));
        _mm512_mask_storeu_ps(out + (12 + b) * xs, mk, _mm512_sub_ps(zero, r[1][b]));
      }
    }
  }
}
#endif  // __AVX512F__

}  // namespace nsal::kernels::cpu::winograd

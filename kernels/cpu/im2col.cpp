#include "kernels/cpu/im2col.h"

#include <algorithm>

#include "kernels/cpu/line_ops.h"

namespace nsal::kernels::cpu {
namespace {

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

// Walks every (row, od, oh) line of the column matrix. For each row, make_row(off_w, w_range)
// builds the row's operations `ops`; each line then goes to ops.line(col_line, x_line) when its
// input line exists, or to ops.pad(col_line) when it falls in the padding. Output column o of a
// line reads input column o * stride + off_w of x_line, for o in w_range.
template <typename ColPtr, typename XPtr, typename MakeRow>
inline void for_each_line(const ConvShape& s, int64_t channels, ColPtr col, int64_t ld, XPtr x,
                          int64_t line0, int64_t line1, MakeRow make_row) {
  const Dims3 out = s.out();
  const int64_t D = s.in[0], H = s.in[1], W = s.in[2];
  const int64_t in_size = s.in_size();
  int64_t row = 0;
  for (int64_t ch = 0; ch < channels; ++ch) {
    XPtr xc = x + ch * in_size;
    for (int64_t kd = 0; kd < s.kernel[0]; ++kd) {
      const int64_t off_d = kd * s.dilation[0] - s.pad[0];
      const ValidRange rd = valid_range(off_d, s.stride[0], D, out[0]);
      for (int64_t kh = 0; kh < s.kernel[1]; ++kh) {
        const int64_t off_h = kh * s.dilation[1] - s.pad[1];
        const ValidRange rh = valid_range(off_h, s.stride[1], H, out[1]);
        for (int64_t kw = 0; kw < s.kernel[2]; ++kw, ++row) {
          const int64_t off_w = kw * s.dilation[2] - s.pad[2];
          const auto ops = make_row(off_w, valid_range(off_w, s.stride[2], W, out[2]));
          ColPtr line = col + row * ld;
          for (int64_t od = line0 / out[1]; od * out[1] < line1; ++od) {
            const bool d_ok = od >= rd.lo && od < rd.hi;
            const int64_t id = od * s.stride[0] + off_d;
            const int64_t oh_end = std::min(out[1], line1 - od * out[1]);
            for (int64_t oh = std::max<int64_t>(0, line0 - od * out[1]); oh < oh_end;
                 ++oh, line += out[2]) {
              if (!d_ok || oh < rh.lo || oh >= rh.hi) {
                ops.pad(line);
                continue;
              }
              ops.line(line, xc + (id * H + oh * s.stride[1] + off_h) * W);
            }
          }
        }
      }
    }
  }
}

// Any stride and width: short runs of line_ops.
template <typename T>
struct GenericRow {
  int64_t ow, sw, off;
  ValidRange r;
  void line(T* col, const T* x) const {  // im2col
    line_ops::zero(col, r.lo);
    line_ops::copy(col + r.lo, x + r.lo * sw + off, r.hi - r.lo, sw);
    line_ops::zero(col + r.hi, ow - r.hi);
  }
  void pad(T* col) const { line_ops::zero(col, ow); }
  void line(const T* col, T* x) const {  // col2im
    line_ops::add(x + r.lo * sw + off, col + r.lo, r.hi - r.lo, sw);
  }
  void pad(const T*) const {}
};

#if defined(__AVX512F__)
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

constexpr int64_t kMaxVectors = 8;  // lines up to 8 registers wide take the vector path

// Stride 1 or 2 along the width, lines of at most kMaxVectors registers: every register of a
// line is one masked load (padding lanes read as zero without touching memory) and one store.
// The masks depend only on the row, so they are computed once per row.
template <typename T>
struct VectorRow {
  using S = Simd<T>;
  using M = typename S::M;
  static constexpr int64_t L = S::L;
  int64_t nv, off, sw;
  M out[kMaxVectors];                          // output lanes of register v inside the line
  M valid[kMaxVectors];                        // output lanes whose input exists
  M src_a[kMaxVectors], src_b[kMaxVectors];    // stride 2: input lanes inside the input row
  M even_a[kMaxVectors], even_b[kMaxVectors];  // stride 2, col2im: input lanes written

  VectorRow(int64_t ow, int64_t w, int64_t stride, int64_t offset, ValidRange r)
      : nv((ow + L - 1) / L), off(offset), sw(stride) {
    for (int64_t v = 0; v < nv; ++v) {
      const int64_t o0 = v * L;  // first output of register v
      out[v] = lanes<M, L>(0, ow - o0);
      valid[v] = lanes<M, L>(r.lo - o0, r.hi - o0);
      // stride 2: register v covers inputs off + 2 o0 + j, j in [0, 2L)
      const int64_t i0 = off + 2 * o0;
      src_a[v] = lanes<M, L>(-i0, w - i0);
      src_b[v] = lanes<M, L>(-i0 - L, w - i0 - L);
      const int64_t e_lo = 2 * (r.lo - o0), e_hi = 2 * (r.hi - o0) - 1;
      even_a[v] = static_cast<M>(lanes<M, L>(e_lo, e_hi) & static_cast<M>(0x5555555555555555ull));
      even_b[v] =
          static_cast<M>(lanes<M, L>(e_lo - L, e_hi - L) & static_cast<M>(0x5555555555555555ull));
    }
  }
  void line(T* col, const T* x) const {  // im2col
    if (sw == 1) {
      for (int64_t v = 0; v < nv; ++v)
        S::store(col + v * L, out[v], S::load(valid[v], x + off + v * L));
    } else {
      for (int64_t v = 0; v < nv; ++v) {
        const T* p = x + off + 2 * v * L;
        S::store(col + v * L, out[v],
                 S::even(valid[v], S::load(src_a[v], p), S::load(src_b[v], p + L)));
      }
    }
  }
  void pad(T* col) const {
    for (int64_t v = 0; v < nv; ++v)
      S::store(col + v * L, out[v], S::zero());
  }
  void line(const T* col, T* x) const {  // col2im
    if (sw == 1) {
      for (int64_t v = 0; v < nv; ++v) {
        T* p = x + off + v * L;
        S::store(p, valid[v], S::add(S::load(valid[v], p), S::load(valid[v], col + v * L)));
      }
    } else {
      for (int64_t v = 0; v < nv; ++v) {
        T* p = x + off + 2 * v * L;
        const typename S::V c = S::load(valid[v], col + v * L);
        if (even_a[v]) S::store(p, even_a[v], S::add(S::load(even_a[v], p), S::spread_lo(c)));
        if (even_b[v])
          S::store(p + L, even_b[v], S::add(S::load(even_b[v], p + L), S::spread_hi(c)));
      }
    }
  }
  void pad(const T*) const {}
};

template <typename T>
bool vector_path(const ConvShape& s) {
  return (s.stride[2] == 1 || s.stride[2] == 2) && s.out_dim(2) <= kMaxVectors * Simd<T>::L;
}
#endif  // __AVX512F__

// Runs f with the row operations that suit s.
template <typename T, typename F>
inline void with_rows(const ConvShape& s, F f) {
  const int64_t ow = s.out_dim(2), sw = s.stride[2];
#if defined(__AVX512F__)
  if (vector_path<T>(s)) {
    const int64_t w = s.in[2];
    f([ow, w, sw](int64_t off, ValidRange r) { return VectorRow<T>(ow, w, sw, off, r); });
    return;
  }
#endif
  f([ow, sw](int64_t off, ValidRange r) { return GenericRow<T>{ow, sw, off, r}; });
}

}  // namespace

template <typename T>
void im2col(const ConvShape& s, int64_t channels, const T* x, T* col, int64_t ld, int64_t line0,
            int64_t line1) {
  if (line1 < 0) line1 = conv_out_lines(s);
  with_rows<T>(s, [&](auto make_row) {
    for_each_line<T*, const T*>(s, channels, col, ld, x, line0, line1, make_row);
  });
}

template <typename T>
void col2im_add(const ConvShape& s, int64_t channels, const T* col, int64_t ld, T* x, int64_t line0,
                int64_t line1) {
  if (line1 < 0) line1 = conv_out_lines(s);
  with_rows<T>(s, [&](auto make_row) {
    for_each_line<const T*, T*>(s, channels, col, ld, x, line0, line1, make_row);
  });
}

template void im2col<float>(const ConvShape&, int64_t, const float*, float*, int64_t, int64_t,
                            int64_t);
template void im2col<double>(const ConvShape&, int64_t, const double*, double*, int64_t, int64_t,
                             int64_t);
template void col2im_add<float>(const ConvShape&, int64_t, const float*, int64_t, float*, int64_t,
                                int64_t);
template void col2im_add<double>(const ConvShape&, int64_t, const double*, int64_t, double*,
                                 int64_t, int64_t);

}  // namespace nsal::kernels::cpu

// Max pooling of one 2d plane without padding, KH x KW window, width stride 1 or 2, float32, in
// AVX-512 registers: 16 outputs of an output row per vector, each window position a (masked)
// load, compared and blended in scan order so that the first largest element wins exactly as in
// max_pool_window (kernels/pool.h). The scalar loop in pool_cpu.cpp is the reference and the
// fallback (other strides, float64, no AVX-512, and planes holding a NaN).
#pragma once

#include <cstdint>

#include "kernels/pool.h"

#if defined(__AVX512F__)
#include <immintrin.h>

namespace nsal::kernels::cpu {

// Writes y (out_h, out_w) and argmax; returns false when a NaN was seen (the caller recomputes
// the plane). Needs g.sw of 1 or 2, g.ph == g.pw == 0, depth 1.
template <int KH, int KW>
bool max_pool_plane_avx512(const float* xp, const PoolGeom& g, float* y, int32_t* argmax) {
  const int64_t iw = g.in_w, ow_n = g.out_w;
  const int sw = g.sw;
  // Lane l of a stride-2 load pair (32 consecutive inputs) is input 2 l: the even elements.
  const __m512i evens =
      _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  __mmask16 nan = 0;
  for (int64_t oh = 0; oh < g.out_h; ++oh) {
    const float* top = xp + oh * g.sh * iw;  // first input row of this output row's windows
    for (int64_t ow = 0; ow < ow_n; ow += 16) {
      const int64_t n = ow_n - ow < 16 ? ow_n - ow : 16;
      const __mmask16 out_mask = static_cast<__mmask16>((1u << n) - 1u);
      // Inputs of lane l at window column c: top[r * iw + ow * sw + c + l * sw]. With stride 2
      // the last needed one is 2 (n - 1) + c, so 2 n - 1 consecutive elements from c.
      const int64_t span = sw == 1 ? n : 2 * n - 1;
      const __mmask16 m0 =
          span >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << span) - 1u);
      const __mmask16 m1 =
          span <= 16 ? __mmask16(0) : static_cast<__mmask16>((1u << (span - 16)) - 1u);
      __m512 best = _mm512_undefined_ps();
      __m512i best_off = _mm512_setzero_si512();
      for (int r = 0; r < KH; ++r)
        for (int c = 0; c < KW; ++c) {
          const float* src = top + r * iw + ow * sw + c;
          __m512 v;
          if (sw == 1) {
            v = _mm512_maskz_loadu_ps(m0, src);
          } else {
            const __m512 lo = _mm512_maskz_loadu_ps(m0, src);
            const __m512 hi = _mm512_maskz_loadu_ps(m1, src + 16);
            v = _mm512_permutex2var_ps(lo, evens, hi);
          }
          nan |= _mm512_mask_cmp_ps_mask(out_mask, v, v, _CMP_UNORD_Q);
          const __m512i off = _mm512_set1_epi32(static_cast<int32_t>(r * iw + c));
          if (r == 0 && c == 0) {
            best = v;
            best_off = off;
          } else {
            const __mmask16 gt = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ);
            best = _mm512_mask_blend_ps(gt, best, v);
            best_off = _mm512_mask_blend_epi32(gt, best_off, off);
          }
        }
      // argmax = (oh * sh) * iw + (ow + l) * sw + offset within the window
      const __m512i base =
          _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(oh * g.sh * iw + ow * sw)),
                           _mm512_mullo_epi32(lane, _mm512_set1_epi32(sw)));
      _mm512_mask_storeu_ps(y + oh * ow_n + ow, out_mask, best);
      _mm512_mask_storeu_epi32(argmax + oh * ow_n + ow, out_mask, _mm512_add_epi32(base, best_off));
    }
  }
  return nan == 0;
}

}  // namespace nsal::kernels::cpu

#endif  // __AVX512F__

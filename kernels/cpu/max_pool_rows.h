// Max pooling of one 2d plane, KH x KW window, width stride 1 or 2, any padding of at most half
// the window, float32, in AVX-512 registers: 16 outputs of an output row per vector. Each
// window position is one masked load (stride 2: two loads and a permute to the even elements);
// lanes whose input falls in the padding are left out, and of the rest the first largest in
// scan order wins, exactly as in max_pool_window (kernels/pool.h). The scalar loops in
// pool_cpu.cpp are the reference and the fallback (other strides, float64, no AVX-512, and
// planes holding a NaN).
#pragma once

#include <cstdint>

#include "kernels/pool.h"

#if defined(__AVX512F__)
#include <immintrin.h>

namespace nsal::kernels::cpu {

// Writes y (out_h, out_w) and argmax (flat index in the plane); returns false when a NaN was
// seen (the caller recomputes the plane). Needs depth 1, g.sw of 1 or 2 and padding at most
// half the window (every window then holds at least one input element).
template <int KH, int KW>
bool max_pool_plane_avx512(const float* xp, const PoolGeom& g, float* y, int32_t* argmax) {
  const int64_t ih = g.in_h, iw = g.in_w, ow_n = g.out_w;
  const int sw = g.sw;
  // Lane l of a stride-2 load pair (32 consecutive inputs) is input 2 l: the even elements.
  const __m512i evens =
      _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i lane_step = _mm512_mullo_epi32(lane, _mm512_set1_epi32(sw));
  const __m512i zero = _mm512_setzero_si512(), width = _mm512_set1_epi32(static_cast<int>(iw));
  __mmask16 nan = 0;
  for (int64_t oh = 0; oh < g.out_h; ++oh) {
    const int64_t h0 = oh * g.sh - g.ph;
    for (int64_t ow = 0; ow < ow_n; ow += 16) {
      const int64_t n = ow_n - ow < 16 ? ow_n - ow : 16;
      const __mmask16 out_mask = static_cast<__mmask16>((1u << n) - 1u);
      __m512 best = _mm512_set1_ps(0.f);
      __m512i best_at = _mm512_setzero_si512();
      __mmask16 seen = 0;  // lanes that have taken a first element
      for (int r = 0; r < KH; ++r) {
        const int64_t h = h0 + r;
        if (h < 0 || h >= ih) continue;  // a padding row
        const float* row = xp + h * iw;
        for (int c = 0; c < KW; ++c) {
          // Lane l reads column first + l * sw; raw element j of the load is column first + j.
          const int64_t first = ow * sw - g.pw + c;
          const int64_t span = sw == 1 ? n : 2 * n - 1;
          const int64_t j0 = first < 0 ? -first : 0;
          const int64_t j1 = iw - first < span ? iw - first : span;
          if (j1 <= j0) continue;
          const uint32_t raw =
              static_cast<uint32_t>(((uint64_t{1} << j1) - 1) & ~((uint64_t{1} << j0) - 1));
          const float* src = row + first;  // masked loads touch only columns in [0, iw)
          __m512 v;
          if (sw == 1) {
            v = _mm512_maskz_loadu_ps(static_cast<__mmask16>(raw), src);
          } else {
            const __m512 lo = _mm512_maskz_loadu_ps(static_cast<__mmask16>(raw), src);
            const __m512 hi = _mm512_maskz_loadu_ps(static_cast<__mmask16>(raw >> 16), src + 16);
            v = _mm512_permutex2var_ps(lo, evens, hi);
          }
          const __m512i col =
              _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(first)), lane_step);
          const __mmask16 valid = _mm512_mask_cmpge_epi32_mask(
              _mm512_mask_cmplt_epi32_mask(out_mask, col, width), col, zero);
          nan |= _mm512_mask_cmp_ps_mask(valid, v, v, _CMP_UNORD_Q);
          const __mmask16 take = static_cast<__mmask16>(
              valid & (~seen | _mm512_mask_cmp_ps_mask(valid, v, best, _CMP_GT_OQ)));
          best = _mm512_mask_blend_ps(take, best, v);
          best_at = _mm512_mask_blend_epi32(
              take, best_at, _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(h * iw)), col));
          seen = static_cast<__mmask16>(seen | valid);
        }
      }
      _mm512_mask_storeu_ps(y + oh * ow_n + ow, out_mask, best);
      _mm512_mask_storeu_epi32(argmax + oh * ow_n + ow, out_mask, best_at);
    }
  }
  return nan == 0;
}

}  // namespace nsal::kernels::cpu

#endif  // __AVX512F__

// Runs of copies and additions with any stride: the inner loops of im2col/col2im where the
// register path (simd_rows.h) does not apply (no AVX-512, rows wider than 8 registers, width
// strides above 2). The AVX-512 versions finish each run with one masked operation instead of a
// scalar tail.
#pragma once

#include <cstdint>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace nsal::kernels::cpu::line_ops {

// dst[i] = 0 for i < n
template <typename T>
inline void zero(T* __restrict dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    dst[i] = T(0);
}
// dst[i] = src[i * stride]
template <typename T>
inline void copy(T* __restrict dst, const T* __restrict src, int64_t n, int64_t stride) {
  if (stride == 1) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i)
      dst[i] = src[i];
  } else {
    for (int64_t i = 0; i < n; ++i)
      dst[i] = src[i * stride];
  }
}
// dst[i * stride] += src[i]
template <typename T>
inline void add(T* __restrict dst, const T* __restrict src, int64_t n, int64_t stride) {
  if (stride == 1) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i)
      dst[i] += src[i];
  } else {
    for (int64_t i = 0; i < n; ++i)
      dst[i * stride] += src[i];
  }
}

#if defined(__AVX512F__)
// Mask of the first n (< 16) lanes.
inline __mmask16 first16(int64_t n) {
  return static_cast<__mmask16>((1u << n) - 1u);
}
// Mask of the first min(n, 16) lanes (n >= 1). Every vector of a run is a masked operation: it
// handles the tail without a second loop, and it keeps the compiler from turning the loop into a
// call to memmove/memset, which costs more than the copy on runs this short.
inline __mmask16 lanes16(int64_t n) {
  return n >= 16 ? __mmask16(0xffff) : first16(n);
}
inline __mmask8 lanes8(int64_t n) {
  return n >= 8 ? __mmask8(0xff) : static_cast<__mmask8>((1u << n) - 1u);
}

template <>
inline void zero<float>(float* __restrict dst, int64_t n) {
  const __m512 z = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16)
    _mm512_mask_storeu_ps(dst + i, lanes16(n - i), z);
}
template <>
inline void zero<double>(double* __restrict dst, int64_t n) {
  const __m512d z = _mm512_setzero_pd();
  for (int64_t i = 0; i < n; i += 8)
    _mm512_mask_storeu_pd(dst + i, lanes8(n - i), z);
}

template <>
inline void copy<float>(float* __restrict dst, const float* __restrict src, int64_t n,
                        int64_t stride) {
  int64_t i = 0;
  if (stride == 1) {
    for (; i < n; i += 16) {
      const __mmask16 m = lanes16(n - i);
      _mm512_mask_storeu_ps(dst + i, m, _mm512_maskz_loadu_ps(m, src + i));
    }
  } else if (stride == 2) {  // even lanes of two vectors
    const __m512i even =
        _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    for (; i + 16 <= n; i += 16) {
      // src[2i .. 2i + 30]: the second load stops at the last element used.
      const __m512 a = _mm512_loadu_ps(src + 2 * i);
      const __m512 b = _mm512_maskz_loadu_ps(0x7fff, src + 2 * i + 16);
      _mm512_storeu_ps(dst + i, _mm512_permutex2var_ps(a, even, b));
    }
    if (i < n) {
      const int64_t r = n - i, used = 2 * r - 1;  // src elements read: 2i .. 2i + 2r - 2
      const __m512 a = _mm512_maskz_loadu_ps(used >= 16 ? 0xffff : first16(used), src + 2 * i);
      const __m512 b = used > 16 ? _mm512_maskz_loadu_ps(first16(used - 16), src + 2 * i + 16)
                                 : _mm512_setzero_ps();
      _mm512_mask_storeu_ps(dst + i, first16(r), _mm512_permutex2var_ps(a, even, b));
    }
  } else {
    for (; i < n; ++i)
      dst[i] = src[i * stride];
  }
}
template <>
inline void copy<double>(double* __restrict dst, const double* __restrict src, int64_t n,
                         int64_t stride) {
  int64_t i = 0;
  if (stride == 1) {
    for (; i < n; i += 8) {
      const __mmask8 m = lanes8(n - i);
      _mm512_mask_storeu_pd(dst + i, m, _mm512_maskz_loadu_pd(m, src + i));
    }
  } else {
    for (; i < n; ++i)
      dst[i] = src[i * stride];
  }
}

template <>
inline void add<float>(float* __restrict dst, const float* __restrict src, int64_t n,
                       int64_t stride) {
  int64_t i = 0;
  if (stride == 1) {
    for (; i < n; i += 16) {
      const __mmask16 m = lanes16(n - i);
      _mm512_mask_storeu_ps(
          dst + i, m,
          _mm512_add_ps(_mm512_maskz_loadu_ps(m, dst + i), _mm512_maskz_loadu_ps(m, src + i)));
    }
  } else if (stride == 2) {  // dst even lanes += src: add to the even lanes only
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 16, 2, 16, 3, 16, 4, 16, 5, 16, 6, 16, 7, 16);
    const __m512i hi =
        _mm512_setr_epi32(8, 16, 9, 16, 10, 16, 11, 16, 12, 16, 13, 16, 14, 16, 15, 16);
    const __m512 z = _mm512_setzero_ps();
    for (; i < n; i += 16) {
      const int64_t r = n - i < 16 ? n - i : 16;
      const __m512 v = _mm512_maskz_loadu_ps(r == 16 ? 0xffff : first16(r), src + i);
      // dst elements touched: the even ones of 2i .. 2i + 2r - 2; odd lanes are neither read nor
      // written.
      const int64_t used = 2 * r - 1;
      const __mmask16 ma = static_cast<__mmask16>((used >= 16 ? 0xffff : first16(used)) & 0x5555);
      const __mmask16 mb = static_cast<__mmask16>((used > 16 ? first16(used - 16) : 0) & 0x5555);
      float* d = dst + 2 * i;
      _mm512_mask_storeu_ps(
          d, ma, _mm512_add_ps(_mm512_maskz_loadu_ps(ma, d), _mm512_permutex2var_ps(v, lo, z)));
      if (mb)
        _mm512_mask_storeu_ps(
            d + 16, mb,
            _mm512_add_ps(_mm512_maskz_loadu_ps(mb, d + 16), _mm512_permutex2var_ps(v, hi, z)));
    }
  } else {
    for (; i < n; ++i)
      dst[i * stride] += src[i];
  }
}
template <>
inline void add<double>(double* __restrict dst, const double* __restrict src, int64_t n,
                        int64_t stride) {
  int64_t i = 0;
  if (stride == 1) {
    for (; i < n; i += 8) {
      const __mmask8 m = lanes8(n - i);
      _mm512_mask_storeu_pd(
          dst + i, m,
          _mm512_add_pd(_mm512_maskz_loadu_pd(m, dst + i), _mm512_maskz_loadu_pd(m, src + i)));
    }
  } else {
    for (; i < n; ++i)
      dst[i * stride] += src[i];
  }
}
#endif  // __AVX512F__

}  // namespace nsal::kernels::cpu::line_ops

// Dilated 3x3 convolutions on planes (dilation d, padding d, stride 1, as in drn-d-22's dilated
// levels) as plain ones: the output rows a + d i and columns b + d j (phase (a, b)) read only
// input rows and columns of the same phase, through the same 3x3 filter with padding 1. So the
// d^2 phases of a sample are d^2 samples of a ceil(H / d) x ceil(W / d) plane, zero past the
// edge, and a plain 3x3 method (Winograd) runs on them. Splitting and merging copy the tensors
// once each; the filter is unchanged.
#pragma once

#include <cstdint>

#include "kernels/conv_shape.h"

namespace nsal::kernels::cpu::phases {

// The phase shape of a dilated plane convolution: n d^2 samples of ceil(H/d) x ceil(W/d).
inline ConvShape plain_shape(const ConvShape& s) {
  const int64_t d = s.dilation[1];
  ConvShape p = s;
  p.n = s.n * d * d;
  p.in = {1, (s.in[1] + d - 1) / d, (s.in[2] + d - 1) / d};
  p.pad = {0, 1, 1};
  p.dilation = {1, 1, 1};
  return p;
}

// src (n, c, h, w) -> dst (n d^2, c, ceil(h/d), ceil(w/d)); phase (a, b) of sample i is sample
// i d^2 + a d + b; positions past the edge are zero.
template <typename T>
void split(const T* src, int64_t n, int64_t c, int64_t h, int64_t w, int64_t d, T* dst) {
  const int64_t hp = (h + d - 1) / d, wp = (w + d - 1) / d;
  const int64_t planes = n * d * d * c;
#pragma omp parallel for schedule(static) if (planes * hp * wp >= 65536)
  for (int64_t q = 0; q < planes; ++q) {
    const int64_t ch = q % c, phase = q / c % (d * d), i = q / (c * d * d);
    const int64_t a = phase / d, b = phase % d;
    const T* in = src + (i * c + ch) * h * w;
    T* out = dst + q * hp * wp;
    for (int64_t y = 0; y < hp; ++y) {
      const int64_t sy = a + d * y;
      for (int64_t x = 0; x < wp; ++x) {
        const int64_t sx = b + d * x;
        out[y * wp + x] = sy < h && sx < w ? in[sy * w + sx] : T(0);
      }
    }
  }
}

// The inverse of split for the positions inside the plane: src (n d^2, c, ceil(h/d),
// ceil(w/d)) -> dst (n, c, h, w) (overwritten).
template <typename T>
void merge(const T* src, int64_t n, int64_t c, int64_t h, int64_t w, int64_t d, T* dst) {
  const int64_t hp = (h + d - 1) / d, wp = (w + d - 1) / d;
  const int64_t planes = n * c;
#pragma omp parallel for schedule(static) if (planes * h * w >= 65536)
  for (int64_t q = 0; q < planes; ++q) {
    const int64_t ch = q % c, i = q / c;
    T* out = dst + q * h * w;
    for (int64_t y = 0; y < h; ++y) {
      const int64_t a = y % d, py = y / d;
      for (int64_t x = 0; x < w; ++x) {
        const int64_t sample = i * d * d + a * d + x % d;
        out[y * w + x] = src[((sample * c + ch) * hp + py) * wp + x / d];
      }
    }
  }
}

}  // namespace nsal::kernels::cpu::phases

// Window arithmetic of max and average pooling (PyTorch semantics, no dilation, floor mode),
// shared by the CPU loops and CUDA kernels. 2d pooling is 3d pooling with depth 1.
#pragma once

#include <cstdint>

#include "kernels/hd.h"

namespace nsal::kernels {

struct PoolGeom {
  int64_t in_d = 1, in_h = 1, in_w = 1;
  int64_t out_d = 1, out_h = 1, out_w = 1;
  int kd = 1, kh = 1, kw = 1;  // kernel
  int sd = 1, sh = 1, sw = 1;  // stride
  int pd = 0, ph = 0, pw = 0;  // padding (implicit -inf for max, zeros for average)
};

// Output length of one dimension; <= 0 when the window does not fit.
NSAL_HD int64_t pool_output_size(int64_t in, int k, int s, int p) {
  return (in + 2 * p - k) / s + 1;
}

// The window of output (od, oh, ow) clipped to the input: [d0, d1) x [h0, h1) x [w0, w1), and
// the number of elements its padded extent covers (the count_include_pad divisor).
struct PoolWindow {
  int64_t d0, d1, h0, h1, w0, w1;
  int64_t padded_count;
};

NSAL_HD int64_t pool_min(int64_t a, int64_t b) {
  return a < b ? a : b;
}
NSAL_HD int64_t pool_max(int64_t a, int64_t b) {
  return a > b ? a : b;
}

NSAL_HD PoolWindow pool_window(const PoolGeom& g, int64_t od, int64_t oh, int64_t ow) {
  PoolWindow w;
  int64_t ds = od * g.sd - g.pd, hs = oh * g.sh - g.ph, ws = ow * g.sw - g.pw;
  int64_t de = pool_min(ds + g.kd, g.in_d + g.pd), he = pool_min(hs + g.kh, g.in_h + g.ph),
          we = pool_min(ws + g.kw, g.in_w + g.pw);
  w.padded_count = (de - ds) * (he - hs) * (we - ws);
  w.d0 = pool_max(ds, 0);
  w.h0 = pool_max(hs, 0);
  w.w0 = pool_max(ws, 0);
  w.d1 = pool_min(de, g.in_d);
  w.h1 = pool_min(he, g.in_h);
  w.w1 = pool_min(we, g.in_w);
  return w;
}

// Max over the window of one (D, H, W) plane; idx gets the flat index (d * H + h) * W + w of the
// first maximum in scan order, and NaN wins as in PyTorch.
template <typename T>
NSAL_HD T max_pool_window(const T* plane, const PoolGeom& g, const PoolWindow& w, int32_t& idx) {
  T best = T(0);
  bool any = false;
  int64_t best_i = (w.d0 * g.in_h + w.h0) * g.in_w + w.w0;
  for (int64_t d = w.d0; d < w.d1; ++d)
    for (int64_t h = w.h0; h < w.h1; ++h)
      for (int64_t x = w.w0; x < w.w1; ++x) {
        const int64_t i = (d * g.in_h + h) * g.in_w + x;
        const T v = plane[i];
        if (!any || v > best || v != v) {  // the last NaN of a window wins, as in PyTorch
          best = v;
          best_i = i;
          any = true;
        }
      }
  idx = static_cast<int32_t>(best_i);
  return best;
}

// Divisor of average pooling for one window.
NSAL_HD int64_t avg_pool_divisor(const PoolWindow& w, bool count_include_pad) {
  return count_include_pad ? w.padded_count : (w.d1 - w.d0) * (w.h1 - w.h0) * (w.w1 - w.w0);
}

}  // namespace nsal::kernels

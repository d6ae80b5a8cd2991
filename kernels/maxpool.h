// Max pooling index math (PyTorch semantics), written once for the CPU and the CUDA kernels:
// the maximum of a window is its FIRST largest element in row-major order, except that a NaN
// always takes over (so the last NaN wins and the output is NaN); the whole gradient of a
// window goes to that one element. Floor mode, no dilation; 2D is the 3D case with D = 1.
#pragma once

#include <math.h>

#include <cstdint>

#include "kernels/hd.h"

namespace nsal::kernels {

struct MaxPoolGeom {
  int d, h, w;     // input extents (d = 1 for 2D)
  int od, oh, ow;  // output extents
  int kd, kh, kw;
  int sd, sh, sw;
  int pd, ph, pw;
};

// Flat index (d h w order, within one (D, H, W) volume) of the element that output cell
// (z, y, x) takes its value from; *value receives that value.
NSAL_HD int64_t maxpool_argmax(const float* vol, const MaxPoolGeom& g, int z, int y, int x,
                               float* value) {
  int z0 = z * g.sd - g.pd, y0 = y * g.sh - g.ph, x0 = x * g.sw - g.pw;
  int z1 = z0 + g.kd < g.d ? z0 + g.kd : g.d;
  int y1 = y0 + g.kh < g.h ? y0 + g.kh : g.h;
  int x1 = x0 + g.kw < g.w ? x0 + g.kw : g.w;
  if (z0 < 0) z0 = 0;
  if (y0 < 0) y0 = 0;
  if (x0 < 0) x0 = 0;
  int64_t best = (int64_t{z0} * g.h + y0) * g.w + x0;
  float m = -INFINITY;
  for (int iz = z0; iz < z1; ++iz)
    for (int iy = y0; iy < y1; ++iy)
      for (int ix = x0; ix < x1; ++ix) {
        int64_t i = (int64_t{iz} * g.h + iy) * g.w + ix;
        float v = vol[i];
        if (v > m || v != v) {  // v != v: NaN
          m = v;
          best = i;
        }
      }
  *value = m;
  return best;
}

// Output cells [lo, hi] along one axis whose window contains input index i.
NSAL_HD void maxpool_cover(int i, int k, int s, int p, int out, int& lo, int& hi) {
  // o covers i when o s - p <= i <= o s - p + k - 1.
  int a = i + p - k + 1;
  lo = a <= 0 ? 0 : (a + s - 1) / s;
  hi = (i + p) / s;
  if (hi > out - 1) hi = out - 1;
}

// Gradient reaching input cell (z, y, x) of one volume: the sum, over the outputs in row-major
// order whose chosen element it is, of their dy.
NSAL_HD float maxpool_backward_gather(const float* vol, const float* dy, const MaxPoolGeom& g,
                                      int z, int y, int x) {
  int zl, zh, yl, yh, xl, xh;
  maxpool_cover(z, g.kd, g.sd, g.pd, g.od, zl, zh);
  maxpool_cover(y, g.kh, g.sh, g.ph, g.oh, yl, yh);
  maxpool_cover(x, g.kw, g.sw, g.pw, g.ow, xl, xh);
  const int64_t self = (int64_t{z} * g.h + y) * g.w + x;
  float acc = 0.f;
  for (int oz = zl; oz <= zh; ++oz)
    for (int oy = yl; oy <= yh; ++oy)
      for (int ox = xl; ox <= xh; ++ox) {
        float v;
        if (maxpool_argmax(vol, g, oz, oy, ox, &v) == self)
          acc += dy[(int64_t{oz} * g.oh + oy) * g.ow + ox];
      }
  return acc;
}

}  // namespace nsal::kernels

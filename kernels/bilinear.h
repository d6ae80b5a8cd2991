// Bilinear resampling index math (PyTorch's upsample_bilinear2d with align_corners=False, an
// output size or a scale factor given), written once for the CPU and the CUDA kernels. Scales and
// source positions are computed in float, as PyTorch does for float tensors.
#pragma once

#include <math.h>

#include "kernels/hd.h"

namespace nsal::kernels {

// The two input taps of one output index along one axis, with their weights.
struct BilinearTap {
  int i0, i1;    // i1 == i0 at the last input index
  float l0, l1;  // l0 + l1 == 1
};

NSAL_HD float bilinear_scale(int in, int out) {
  return static_cast<float>(in) / static_cast<float>(out);
}

NSAL_HD BilinearTap bilinear_tap(int dst, int in, float scale) {
  float src = scale * (static_cast<float>(dst) + 0.5f) - 0.5f;
  if (src < 0.f) src = 0.f;
  int i0 = static_cast<int>(src);  // floor: src >= 0
  if (i0 > in - 1) i0 = in - 1;
  int i1 = i0 + (i0 < in - 1 ? 1 : 0);
  float l1 = src - static_cast<float>(i0);
  return BilinearTap{i0, i1, 1.f - l1, l1};
}

// Output indices [lo, hi] that can have input index i as a tap (a superset; the caller tests
// each with bilinear_tap). Lets the backward pass gather per input cell instead of scattering
// with atomics: same sums, fixed order, no races.
NSAL_HD void bilinear_gather_range(int i, int in, int out, float scale, int& lo, int& hi) {
  // An output o touches i only when i0(o) is i - 1 or i, i.e. when
  // (i - 1) <= max(scale (o + 0.5) - 0.5, 0) < i + 1; two indices of slack absorb float
  // rounding. For i <= 1 the lower bound holds for every o (positions below 0 clamp to 0).
  float a = (static_cast<float>(i) - 0.5f) / scale - 0.5f;
  float b = (static_cast<float>(i) + 1.5f) / scale - 0.5f;
  lo = i <= 1 ? 0 : static_cast<int>(floorf(a)) - 2;
  hi = static_cast<int>(ceilf(b)) + 2;
  if (lo < 0) lo = 0;
  // Positions past the last cell clamp to it: with an output size larger than the scale factor
  // implies, outputs beyond b still read the last cell.
  if (i == in - 1 || hi > out - 1) hi = out - 1;
}

// Gradient reaching input cell (iy, ix) of one (H, W) plane from the output gradient dy
// (OH, OW): the sum, over outputs in row-major order and their taps in the order
// (h0w0, h0w1, h1w0, h1w1), of weight * dy: the same terms in the same order as a serial
// scatter over the outputs (the formulation of PyTorch's CPU kernel).
// sy, sx: the input-per-output steps (bilinear_scale(h, oh) for an output size, 1 / scale factor
// when one was given; kernels/upsample.h bilinear_step).
NSAL_HD float bilinear_backward_gather_steps(int iy, int ix, int h, int w, int oh, int ow, float sy,
                                             float sx, const float* dy) {
  int ylo, yhi, xlo, xhi;
  bilinear_gather_range(iy, h, oh, sy, ylo, yhi);
  bilinear_gather_range(ix, w, ow, sx, xlo, xhi);
  float acc = 0.f;
  for (int oy = ylo; oy <= yhi; ++oy) {
    BilinearTap ty = bilinear_tap(oy, h, sy);
    if (ty.i0 != iy && ty.i1 != iy) continue;
    for (int ox = xlo; ox <= xhi; ++ox) {
      BilinearTap tx = bilinear_tap(ox, w, sx);
      if (tx.i0 != ix && tx.i1 != ix) continue;
      float g = dy[oy * ow + ox];
      if (ty.i0 == iy && tx.i0 == ix) acc += ty.l0 * tx.l0 * g;
      if (ty.i0 == iy && tx.i1 == ix) acc += ty.l0 * tx.l1 * g;
      if (ty.i1 == iy && tx.i0 == ix) acc += ty.l1 * tx.l0 * g;
      if (ty.i1 == iy && tx.i1 == ix) acc += ty.l1 * tx.l1 * g;
    }
  }
  return acc;
}

NSAL_HD float bilinear_backward_gather(int iy, int ix, int h, int w, int oh, int ow,
                                       const float* dy) {
  return bilinear_backward_gather_steps(iy, ix, h, w, oh, ow, bilinear_scale(h, oh),
                                        bilinear_scale(w, ow), dy);
}

// Forward value of output (oy, ox) of one plane x (H, W), with explicit steps (see above).
NSAL_HD float bilinear_forward_at_steps(int oy, int ox, int h, int w, float sy, float sx,
                                        const float* x) {
  BilinearTap ty = bilinear_tap(oy, h, sy);
  BilinearTap tx = bilinear_tap(ox, w, sx);
  return ty.l0 * (tx.l0 * x[ty.i0 * w + tx.i0] + tx.l1 * x[ty.i0 * w + tx.i1]) +
         ty.l1 * (tx.l0 * x[ty.i1 * w + tx.i0] + tx.l1 * x[ty.i1 * w + tx.i1]);
}

// Forward value of output (oy, ox) of one plane x (H, W), output size given.
NSAL_HD float bilinear_forward_at(int oy, int ox, int h, int w, int oh, int ow, const float* x) {
  return bilinear_forward_at_steps(oy, ox, h, w, bilinear_scale(h, oh), bilinear_scale(w, ow), x);
}

}  // namespace nsal::kernels

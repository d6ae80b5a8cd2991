#include "kernels/cpu/upsample_cpu.h"

#include <algorithm>
#include <vector>

#include "kernels/cpu/parallel.h"
#include "kernels/upsample.h"

namespace nsal::kernels::cpu {

// The width taps of every output column: the same for every row and plane, so computed once.
template <typename T>
std::vector<BilinearTaps<T>> width_taps(T step_w, int64_t OW, int64_t W) {
  std::vector<BilinearTaps<T>> taps(static_cast<size_t>(OW));
  for (int64_t ow = 0; ow < OW; ++ow)
    taps[static_cast<size_t>(ow)] = bilinear_taps(step_w, ow, W);
  return taps;
}

template <typename T>
void upsample_bilinear2d_forward(const T* x, int64_t planes, int64_t H, int64_t W, int64_t OH,
                                 int64_t OW, double scale_h, double scale_w, T* y) {
  const T step_h = bilinear_step<T>(H, OH, scale_h), step_w = bilinear_step<T>(W, OW, scale_w);
  const std::vector<BilinearTaps<T>> tws = width_taps(step_w, OW, W);
#pragma omp parallel for schedule(static) if (planes * OH * OW >= kParallelMinWork)
  for (int64_t p = 0; p < planes; ++p) {
    const T* xp = x + p * H * W;
    T* yp = y + p * OH * OW;
    for (int64_t oh = 0; oh < OH; ++oh) {
      const BilinearTaps<T> th = bilinear_taps(step_h, oh, H);
      const T* r0 = xp + th.i0 * W;
      const T* r1 = xp + th.i1 * W;
      for (int64_t ow = 0; ow < OW; ++ow) {
        const BilinearTaps<T>& tw = tws[static_cast<size_t>(ow)];
        yp[oh * OW + ow] = th.w0 * (tw.w0 * r0[tw.i0] + tw.w1 * r0[tw.i1]) +
                           th.w1 * (tw.w0 * r1[tw.i0] + tw.w1 * r1[tw.i1]);
      }
    }
  }
}

template <typename T>
void upsample_bilinear2d_backward(const T* dy, int64_t planes, int64_t H, int64_t W, int64_t OH,
                                  int64_t OW, double scale_h, double scale_w, T* dx) {
  const T step_h = bilinear_step<T>(H, OH, scale_h), step_w = bilinear_step<T>(W, OW, scale_w);
  const std::vector<BilinearTaps<T>> tws = width_taps(step_w, OW, W);
#pragma omp parallel for schedule(static) if (planes * OH * OW >= kParallelMinWork)
  for (int64_t p = 0; p < planes; ++p) {
    T* dxp = dx + p * H * W;
    const T* dyp = dy + p * OH * OW;
    std::fill(dxp, dxp + H * W, T(0));
    for (int64_t oh = 0; oh < OH; ++oh) {
      const BilinearTaps<T> th = bilinear_taps(step_h, oh, H);
      T* r0 = dxp + th.i0 * W;
      T* r1 = dxp + th.i1 * W;
      for (int64_t ow = 0; ow < OW; ++ow) {
        const BilinearTaps<T>& tw = tws[static_cast<size_t>(ow)];
        const T g = dyp[oh * OW + ow];
        r0[tw.i0] += th.w0 * tw.w0 * g;
        r0[tw.i1] += th.w0 * tw.w1 * g;
        r1[tw.i0] += th.w1 * tw.w0 * g;
        r1[tw.i1] += th.w1 * tw.w1 * g;
      }
    }
  }
}

#define NSAL_INSTANTIATE(T)                                                                   \
  template void upsample_bilinear2d_forward<T>(const T*, int64_t, int64_t, int64_t, int64_t,  \
                                               int64_t, double, double, T*);                  \
  template void upsample_bilinear2d_backward<T>(const T*, int64_t, int64_t, int64_t, int64_t, \
                                                int64_t, double, double, T*);
NSAL_INSTANTIATE(float)
NSAL_INSTANTIATE(double)
#undef NSAL_INSTANTIATE

}  // namespace nsal::kernels::cpu

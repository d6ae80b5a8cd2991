#include "kernels/cpu/pool_cpu.h"

#include <algorithm>

#include "kernels/cpu/max_pool_rows.h"
#include "kernels/cpu/parallel.h"

namespace nsal::kernels::cpu {

static int64_t in_plane(const PoolGeom& g) {
  return g.in_d * g.in_h * g.in_w;
}
static int64_t out_plane(const PoolGeom& g) {
  return g.out_d * g.out_h * g.out_w;
}

// One plane of a 2d pooling without padding, KH x KW fixed: every window lies inside the input
// (floor mode), so no clipping. The first largest element wins, as in max_pool_window. Returns
// false when the plane holds a NaN, whose outputs the general loop then recomputes (NaN wins
// there); the outputs written so far are overwritten.
template <typename T, int KH, int KW>
bool max_pool_plane_unpadded(const T* xp, const PoolGeom& g, T* y, int32_t* argmax) {
  const int64_t iw = g.in_w;
  bool nan = false;
  for (int64_t oh = 0; oh < g.out_h; ++oh)
    for (int64_t ow = 0; ow < g.out_w; ++ow) {
      const int64_t base = oh * g.sh * iw + ow * g.sw;
      T best = xp[base];
      int64_t best_i = base;
      nan |= best != best;
      for (int r = 0; r < KH; ++r)
        for (int c = r == 0 ? 1 : 0; c < KW; ++c) {
          const int64_t i = base + r * iw + c;
          const T v = xp[i];
          nan |= v != v;
          if (v > best) {
            best = v;
            best_i = i;
          }
        }
      y[oh * g.out_w + ow] = best;
      argmax[oh * g.out_w + ow] = static_cast<int32_t>(best_i);
    }
  return !nan;
}

// A loop over one plane that returns false when it saw a NaN (the general loop then redoes it).
template <typename T>
using PlaneLoop = bool (*)(const T*, const PoolGeom&, T*, int32_t*);

// The fixed-window loop for g, or null when g needs the general one (3d, other window sizes;
// padding except in the float32 register loop).
template <typename T>
PlaneLoop<T> fixed_window_loop(const PoolGeom& g) {
  if (g.in_d != 1 || g.kd != 1 || g.ph != 0 || g.pw != 0) return nullptr;
  if (g.kh == 2 && g.kw == 2) return max_pool_plane_unpadded<T, 2, 2>;
  if (g.kh == 3 && g.kw == 3) return max_pool_plane_unpadded<T, 3, 3>;
  return nullptr;
}
#if defined(__AVX512F__)
// float32 with a width stride of 1 or 2: the register loop, which also takes padding (at most
// half the window, as the layers require).
template <>
PlaneLoop<float> fixed_window_loop<float>(const PoolGeom& g) {
  if (g.in_d != 1 || g.kd != 1) return nullptr;
  const bool regs = (g.sw == 1 || g.sw == 2) && 2 * g.ph <= g.kh && 2 * g.pw <= g.kw;
  const bool unpadded = g.ph == 0 && g.pw == 0;
  if (g.kh == 2 && g.kw == 2) {
    if (regs) return max_pool_plane_avx512<2, 2>;
    return unpadded ? max_pool_plane_unpadded<float, 2, 2> : nullptr;
  }
  if (g.kh == 3 && g.kw == 3) {
    if (regs) return max_pool_plane_avx512<3, 3>;
    return unpadded ? max_pool_plane_unpadded<float, 3, 3> : nullptr;
  }
  return nullptr;
}
#endif

template <typename T>
void max_pool_forward(const T* x, int64_t planes, const PoolGeom& g, T* y, int32_t* argmax) {
  const int64_t ip = in_plane(g), op = out_plane(g);
  const PlaneLoop<T> fast = fixed_window_loop<T>(g);
#pragma omp parallel for schedule(static) if (planes * ip >= kParallelMinWork)
  for (int64_t p = 0; p < planes; ++p) {
    const T* xp = x + p * ip;
    if (fast && fast(xp, g, y + p * op, argmax + p * op)) continue;
    int64_t o = p * op;
    for (int64_t od = 0; od < g.out_d; ++od)
      for (int64_t oh = 0; oh < g.out_h; ++oh)
        for (int64_t ow = 0; ow < g.out_w; ++ow, ++o)
          y[o] = max_pool_window(xp, g, pool_window(g, od, oh, ow), argmax[o]);
  }
}

template <typename T>
void max_pool_backward(const T* dy, const int32_t* argmax, int64_t planes, const PoolGeom& g,
                       T* dx) {
  const int64_t ip = in_plane(g), op = out_plane(g);
#pragma omp parallel for schedule(static) if (planes * ip >= kParallelMinWork)
  for (int64_t p = 0; p < planes; ++p) {
    T* dxp = dx + p * ip;
    std::fill(dxp, dxp + ip, T(0));
    for (int64_t o = 0; o < op; ++o)
      dxp[argmax[p * op + o]] += dy[p * op + o];
  }
}

template <typename T>
void avg_pool_forward(const T* x, int64_t planes, const PoolGeom& g, bool count_include_pad, T* y) {
  const int64_t ip = in_plane(g), op = out_plane(g);
#pragma omp parallel for schedule(static) if (planes * ip >= kParallelMinWork)
  for (int64_t p = 0; p < planes; ++p) {
    const T* xp = x + p * ip;
    int64_t o = p * op;
    for (int64_t od = 0; od < g.out_d; ++od)
      for (int64_t oh = 0; oh < g.out_h; ++oh)
        for (int64_t ow = 0; ow < g.out_w; ++ow, ++o) {
          const PoolWindow w = pool_window(g, od, oh, ow);
          T sum = T(0);
          for (int64_t d = w.d0; d < w.d1; ++d)
            for (int64_t h = w.h0; h < w.h1; ++h) {
              const T* row = xp + (d * g.in_h + h) * g.in_w;
              for (int64_t i = w.w0; i < w.w1; ++i)
                sum += row[i];
            }
          y[o] = sum / static_cast<T>(avg_pool_divisor(w, count_include_pad));
        }
  }
}

template <typename T>
void avg_pool_backward(const T* dy, int64_t planes, const PoolGeom& g, bool count_include_pad,
                       T* dx) {
  const int64_t ip = in_plane(g), op = out_plane(g);
#pragma omp parallel for schedule(static) if (planes * ip >= kParallelMinWork)
  for (int64_t p = 0; p < planes; ++p) {
    T* dxp = dx + p * ip;
    std::fill(dxp, dxp + ip, T(0));
    int64_t o = p * op;
    for (int64_t od = 0; od < g.out_d; ++od)
      for (int64_t oh = 0; oh < g.out_h; ++oh)
        for (int64_t ow = 0; ow < g.out_w; ++ow, ++o) {
          const PoolWindow w = pool_window(g, od, oh, ow);
          const T share = dy[o] / static_cast<T>(avg_pool_divisor(w, count_include_pad));
          for (int64_t d = w.d0; d < w.d1; ++d)
            for (int64_t h = w.h0; h < w.h1; ++h) {
              T* row = dxp + (d * g.in_h + h) * g.in_w;
              for (int64_t i = w.w0; i < w.w1; ++i)
                row[i] += share;
            }
        }
  }
}

template <typename T>
void global_avg_pool_forward(const T* x, int64_t planes, int64_t size, T* y) {
#pragma omp parallel for schedule(static) if (planes * size >= kParallelMinWork)
  for (int64_t p = 0; p < planes; ++p) {
    const T* xp = x + p * size;
    double sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < size; ++i)
      sum += static_cast<double>(xp[i]);
    y[p] = static_cast<T>(sum / static_cast<double>(size));
  }
}

template <typename T>
void global_avg_pool_backward(const T* dy, int64_t planes, int64_t size, T* dx) {
#pragma omp parallel for schedule(static) if (planes * size >= kParallelMinWork)
  for (int64_t p = 0; p < planes; ++p) {
    const T share = static_cast<T>(static_cast<double>(dy[p]) / static_cast<double>(size));
    T* dxp = dx + p * size;
#pragma omp simd
    for (int64_t i = 0; i < size; ++i)
      dxp[i] = share;
  }
}

#define NSAL_INSTANTIATE(T)                                                                   \
  template void max_pool_forward<T>(const T*, int64_t, const PoolGeom&, T*, int32_t*);        \
  template void max_pool_backward<T>(const T*, const int32_t*, int64_t, const PoolGeom&, T*); \
  template void avg_pool_forward<T>(const T*, int64_t, const PoolGeom&, bool, T*);            \
  template void avg_pool_backward<T>(const T*, int64_t, const PoolGeom&, bool, T*);           \
  template void global_avg_pool_forward<T>(const T*, int64_t, int64_t, T*);                   \
  template void global_avg_pool_backward<T>(const T*, int64_t, int64_t, T*);
NSAL_INSTANTIATE(float)
NSAL_INSTANTIATE(double)
#undef NSAL_INSTANTIATE

}  // namespace nsal::kernels::cpu

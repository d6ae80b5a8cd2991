#include "kernels/cpu/conv_direct.h"

#include <algorithm>
#include <cstring>

namespace nsal::kernels::cpu {
namespace {

// The output positions o in [0, out) whose input index o * stride + offset lies in [0, in).
struct Range {
  int64_t lo, hi;
};
inline Range valid(int64_t offset, int64_t stride, int64_t in, int64_t out) {
  int64_t lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  int64_t hi = in - 1 - offset < 0 ? 0 : (in - 1 - offset) / stride + 1;
  lo = std::min(lo, out);
  return {lo, std::max(lo, std::min(hi, out))};
}

// Calls f(out_line, in_line, tap, w_range, off_w) for every output line of a plane and every tap
// whose input line exists. out_line / in_line: offsets of the lines in the output / input plane;
// output position o of the line meets input position o * stride + off_w, for o in w_range.
template <typename F>
inline void for_each_tap(const ConvShape& s, F f) {
  const Dims3 out = s.out();
  for (int64_t od = 0; od < out[0]; ++od)
    for (int64_t oh = 0; oh < out[1]; ++oh) {
      const int64_t out_line = (od * out[1] + oh) * out[2];
      for (int64_t kd = 0; kd < s.kernel[0]; ++kd) {
        const int64_t id = od * s.stride[0] + kd * s.dilation[0] - s.pad[0];
        if (id < 0 || id >= s.in[0]) continue;
        for (int64_t kh = 0; kh < s.kernel[1]; ++kh) {
          const int64_t ih = oh * s.stride[1] + kh * s.dilation[1] - s.pad[1];
          if (ih < 0 || ih >= s.in[1]) continue;
          const int64_t in_line = (id * s.in[1] + ih) * s.in[2];
          for (int64_t kw = 0; kw < s.kernel[2]; ++kw) {
            const int64_t off = kw * s.dilation[2] - s.pad[2];
            f(out_line, in_line, (kd * s.kernel[1] + kh) * s.kernel[2] + kw,
              valid(off, s.stride[2], s.in[2], out[2]), off);
          }
        }
      }
    }
}

}  // namespace

template <typename T>
void conv_direct_forward(const ConvShape& s, const T* x, const T* w, const T* bias, T* y) {
  const int64_t kg = s.k_per_group(), cg = s.c_per_group(), in = s.in_size(), out = s.out_size();
  const int64_t taps = s.kernel_size(), sw = s.stride[2];
#pragma omp parallel for schedule(static)
  for (int64_t plane = 0; plane < s.n * s.k; ++plane) {  // one output plane (n, k) per task
    const int64_t n = plane / s.k, k = plane % s.k, c0 = k / kg * cg;
    T* __restrict yp = y + plane * out;
    const T b = bias ? bias[k] : T(0);
    for (int64_t i = 0; i < out; ++i)
      yp[i] = b;
    for (int64_t c = 0; c < cg; ++c) {
      const T* __restrict xp = x + (n * s.c + c0 + c) * in;
      const T* wk = w + (k * cg + c) * taps;
      for_each_tap(s, [&](int64_t ol, int64_t il, int64_t t, Range r, int64_t off) {
        const T wv = wk[t];
        T* __restrict yl = yp + ol;
        const T* __restrict xl = xp + il;
        if (sw == 1) {
#pragma omp simd
          for (int64_t i = r.lo; i < r.hi; ++i)
            yl[i] += wv * xl[i + off];
        } else {
          for (int64_t i = r.lo; i < r.hi; ++i)
            yl[i] += wv * xl[i * sw + off];
        }
      });
    }
  }
}

template <typename T>
void conv_direct_backward(const ConvShape& s, const T* x, const T* w, const T* dy, T* dx, T* dw) {
  const int64_t kg = s.k_per_group(), cg = s.c_per_group(), in = s.in_size(), out = s.out_size();
  const int64_t taps = s.kernel_size(), sw = s.stride[2];
  if (dx) {
#pragma omp parallel for schedule(static)
    for (int64_t plane = 0; plane < s.n * s.c; ++plane) {  // one input plane (n, c) per task
      const int64_t n = plane / s.c, c = plane % s.c, g = c / cg;
      T* __restrict xp = dx + plane * in;
      std::memset(xp, 0, static_cast<size_t>(in) * sizeof(T));
      for (int64_t k = g * kg; k < (g + 1) * kg; ++k) {  // the outputs that read channel c
        const T* wk = w + (k * cg + c - g * cg) * taps;
        const T* __restrict yp = dy + (n * s.k + k) * out;
        for_each_tap(s, [&](int64_t ol, int64_t il, int64_t t, Range r, int64_t off) {
          const T wv = wk[t];
          const T* __restrict yl = yp + ol;
          T* __restrict xl = xp + il;
          if (sw == 1) {
#pragma omp simd
            for (int64_t i = r.lo; i < r.hi; ++i)
              xl[i + off] += wv * yl[i];
          } else {
            for (int64_t i = r.lo; i < r.hi; ++i)
              xl[i * sw + off] += wv * yl[i];
          }
        });
      }
    }
  }
  if (dw) {
    // One filter row (k, c) per task, summed over the batch in order: no partial sums.
#pragma omp parallel for schedule(static)
    for (int64_t kc = 0; kc < s.k * cg; ++kc) {
      const int64_t k = kc / cg, c = k / kg * cg + kc % cg;
      T* dwk = dw + kc * taps;
      for (int64_t n = 0; n < s.n; ++n) {
        const T* __restrict xp = x + (n * s.c + c) * in;
        const T* __restrict yp = dy + (n * s.k + k) * out;
        for_each_tap(s, [&](int64_t ol, int64_t il, int64_t t, Range r, int64_t off) {
          const T* __restrict yl = yp + ol;
          const T* __restrict xl = xp + il;
          T acc = 0;
          if (sw == 1) {
#pragma omp simd reduction(+ : acc)
            for (int64_t i = r.lo; i < r.hi; ++i)
              acc += yl[i] * xl[i + off];
          } else {
            for (int64_t i = r.lo; i < r.hi; ++i)
              acc += yl[i] * xl[i * sw + off];
          }
          dwk[t] += acc;
        });
      }
    }
  }
}

template void conv_direct_forward<float>(const ConvShape&, const float*, const float*, const float*,
                                         float*);
template void conv_direct_forward<double>(const ConvShape&, const double*, const double*,
                                          const double*, double*);
template void conv_direct_backward<float>(const ConvShape&, const float*, const float*,
                                          const float*, float*, float*);
template void conv_direct_backward<double>(const ConvShape&, const double*, const double*,
                                           const double*, double*, double*);

}  // namespace nsal::kernels::cpu

#include "kernels/cpu/conv_direct.h"

#include <cstring>

#include "kernels/cpu/simd_rows.h"
#include "kernels/error.h"

namespace nsal::kernels::cpu {

#if defined(__AVX512F__)
namespace {

constexpr int64_t kMaxKernelWidth = 16;

// One VectorRow per filter column.
template <typename T>
struct Columns {
  VectorRow<T> col[kMaxKernelWidth];
  explicit Columns(const ConvShape& s) {
    const int64_t ow = s.out_dim(2);
    for (int64_t kw = 0; kw < s.kernel[2]; ++kw) {
      const int64_t off = kw * s.dilation[2] - s.pad[2];
      col[kw] =
          VectorRow<T>(ow, s.in[2], s.stride[2], off, valid_range(off, s.stride[2], s.in[2], ow));
    }
  }
};

// Calls f(in_line, tap0) for every filter row (kd, kh) whose input line exists for output line
// (od, oh): in_line is the offset of that line in an input plane, tap0 the index of (kd, kh, 0).
template <typename F>
inline void for_each_filter_row(const ConvShape& s, int64_t od, int64_t oh, F f) {
  for (int64_t kd = 0; kd < s.kernel[0]; ++kd) {
    const int64_t id = od * s.stride[0] + kd * s.dilation[0] - s.pad[0];
    if (id < 0 || id >= s.in[0]) continue;
    for (int64_t kh = 0; kh < s.kernel[1]; ++kh) {
      const int64_t ih = oh * s.stride[1] + kh * s.dilation[1] - s.pad[1];
      if (ih < 0 || ih >= s.in[1]) continue;
      f((id * s.in[1] + ih) * s.in[2], (kd * s.kernel[1] + kh) * s.kernel[2]);
    }
  }
}

// Up to four filter columns [kw0, kw0 + 4) of one filter row, into four accumulators (separate
// dependency chains). tap(kw) is the weight of column kw.
template <typename T, typename Tap>
inline void four_columns(const Columns<T>& cols, int64_t kw0, int64_t kw_n, const T* x_line,
                         int64_t v, Tap tap, typename Simd<T>::V (&a)[4]) {
  using S = Simd<T>;
  const int64_t m = kw_n - kw0;
  a[0] = S::fmadd(S::set1(tap(kw0)), cols.col[kw0].gather(x_line, v), a[0]);
  if (m > 1) a[1] = S::fmadd(S::set1(tap(kw0 + 1)), cols.col[kw0 + 1].gather(x_line, v), a[1]);
  if (m > 2) a[2] = S::fmadd(S::set1(tap(kw0 + 2)), cols.col[kw0 + 2].gather(x_line, v), a[2]);
  if (m > 3) a[3] = S::fmadd(S::set1(tap(kw0 + 3)), cols.col[kw0 + 3].gather(x_line, v), a[3]);
}

// For every output plane (n, k) of t: y = bias[k] + sum over the cg input channels c of k's group
// of the correlation of x[n, c] with the filter taps(k, c_local) (flipped: taps read backwards,
// which turns the correlation into the convolution the input gradient needs).
template <typename T, typename Taps>
void correlate_planes(const ConvShape& t, const T* x, Taps taps_of, bool flipped, const T* bias,
                      T* y) {
  using S = Simd<T>;
  using V = typename S::V;
  constexpr int64_t L = S::L;
  const Columns<T> cols(t);
  const Dims3 out = t.out();
  const int64_t kg = t.k_per_group(), cg = t.c_per_group(), in = t.in_size();
  const int64_t taps = t.kernel_size(), kw_n = t.kernel[2], nv = cols.col[0].nv;
#pragma omp parallel for schedule(static) if (worth_threads(t))
  for (int64_t plane = 0; plane < t.n * t.k; ++plane) {  // one output plane (n, k) per task
    const int64_t n = plane / t.k, k = plane % t.k, c0 = k / kg * cg;
    T* yp = y + plane * t.out_size();
    const T b = bias ? bias[k] : T(0);
    for (int64_t od = 0; od < out[0]; ++od)
      for (int64_t oh = 0; oh < out[1]; ++oh) {
        T* yl = yp + (od * out[1] + oh) * out[2];
        for (int64_t v = 0; v < nv; ++v) {
          V a[4] = {S::set1(b), S::zero(), S::zero(), S::zero()};
          for (int64_t c = 0; c < cg; ++c) {
            const T* xp = x + (n * t.c + c0 + c) * in;
            const T* wk = taps_of(k, c);
            for_each_filter_row(t, od, oh, [&](int64_t il, int64_t t0) {
              for (int64_t kw0 = 0; kw0 < kw_n; kw0 += 4)
                four_columns(
                    cols, kw0, kw_n, xp + il, v,
                    [&](int64_t kw) { return wk[flipped ? taps - 1 - t0 - kw : t0 + kw]; }, a);
            });
          }
          S::store(yl + v * L, cols.col[0].out[v], S::add(S::add(a[0], a[1]), S::add(a[2], a[3])));
        }
      }
  }
}

// The input gradient as a correlation of dy with the flipped filters: possible when every
// stride is 1. Its geometry: input = s's output, output = s's input, padding dilation (k-1) - pad.
ConvShape transposed_geometry(const ConvShape& s) {
  ConvShape t = s;
  t.c = s.k;
  t.k = s.c;
  t.in = s.out();
  for (int i = 0; i < 3; ++i)
    t.pad[i] = s.dilation[i] * (s.kernel[i] - 1) - s.pad[i];
  return t;
}

bool gather_form_applies(const ConvShape& s) {
  if (s.stride[0] != 1 || s.stride[1] != 1 || s.stride[2] != 1 || s.in[2] > 64) return false;
  const ConvShape t = transposed_geometry(s);
  for (int i = 0; i < 3; ++i)
    if (t.out_dim(i) != s.in[i]) return false;
  return true;
}

}  // namespace

bool conv_prefers_direct(const ConvShape& s) {
  return s.groups > 1 && s.c_per_group() == 1 && s.k_per_group() == 1 && s.out_dim(2) <= 64 &&
         (s.stride[2] == 1 || s.stride[2] == 2) && s.kernel[2] <= kMaxKernelWidth;
}

template <typename T>
void conv_direct_forward(const ConvShape& s, const T* x, const T* w, const T* bias, T* y) {
  const int64_t cg = s.c_per_group(), taps = s.kernel_size();
  correlate_planes(
      s, x, [=](int64_t k, int64_t c) { return w + (k * cg + c) * taps; }, false, bias, y);
}

template <typename T>
void conv_direct_backward(const ConvShape& s, const T* x, const T* w, const T* dy, T* dx, T* dw) {
  using S = Simd<T>;
  using V = typename S::V;
  constexpr int64_t L = S::L;
  const Columns<T> cols(s);
  const Dims3 out = s.out();
  const int64_t kg = s.k_per_group(), cg = s.c_per_group(), in = s.in_size();
  const int64_t taps = s.kernel_size(), kw_n = s.kernel[2], nv = cols.col[0].nv;
  const int64_t out_size = s.out_size();
  if (dx && gather_form_applies(s)) {
    // dx[n, c] = sum over the outputs k of c's group of dy[n, k] correlated with flipped w[k, c].
    const ConvShape t = transposed_geometry(s);
    correlate_planes(
        t, dy,
        [=](int64_t c, int64_t j) {  // output c of t reads input j (channel c0 + j of s's output)
          const int64_t g = c / cg;
          return w + ((g * kg + j) * cg + c % cg) * taps;
        },
        true, static_cast<const T*>(nullptr), dx);
  } else if (dx) {
    // Strided: scatter every output register into the input lines it came from.
#pragma omp parallel for schedule(static) if (worth_threads(s))
    for (int64_t plane = 0; plane < s.n * s.c; ++plane) {  // one input plane (n, c) per task
      const int64_t n = plane / s.c, c = plane % s.c, g = c / cg;
      T* xp = dx + plane * in;
      std::memset(xp, 0, static_cast<size_t>(in) * sizeof(T));
      for (int64_t k = g * kg; k < (g + 1) * kg; ++k) {  // the outputs that read channel c
        const T* wk = w + (k * cg + c - g * cg) * taps;
        const T* yp = dy + (n * s.k + k) * out_size;
        for (int64_t od = 0; od < out[0]; ++od)
          for (int64_t oh = 0; oh < out[1]; ++oh) {
            const T* yl = yp + (od * out[1] + oh) * out[2];
            for (int64_t v = 0; v < nv; ++v) {
              const V d = S::load(cols.col[0].out[v], yl + v * L);
              for_each_filter_row(s, od, oh, [&](int64_t il, int64_t t0) {
                for (int64_t kw = 0; kw < kw_n; ++kw)
                  cols.col[kw].scatter_add(xp + il, v,
                                           S::fmadd(S::set1(wk[t0 + kw]), d, S::zero()));
              });
            }
          }
      }
    }
  }
  if (dw) {
    // One filter (k, c) per task. Each group of four taps of a filter row sums over the batch in
    // order, in four registers.
#pragma omp parallel for schedule(static) if (worth_threads(s))
    for (int64_t kc = 0; kc < s.k * cg; ++kc) {
      const int64_t k = kc / cg, c = k / kg * cg + kc % cg;
      T* dwk = dw + kc * taps;
      for (int64_t kd = 0; kd < s.kernel[0]; ++kd)
        for (int64_t kh = 0; kh < s.kernel[1]; ++kh)
          for (int64_t kw0 = 0; kw0 < kw_n; kw0 += 4) {
            V a[4] = {S::zero(), S::zero(), S::zero(), S::zero()};
            for (int64_t n = 0; n < s.n; ++n) {
              const T* xp = x + (n * s.c + c) * in;
              const T* yp = dy + (n * s.k + k) * out_size;
              for (int64_t od = 0; od < out[0]; ++od) {
                const int64_t id = od * s.stride[0] + kd * s.dilation[0] - s.pad[0];
                if (id < 0 || id >= s.in[0]) continue;
                for (int64_t oh = 0; oh < out[1]; ++oh) {
                  const int64_t ih = oh * s.stride[1] + kh * s.dilation[1] - s.pad[1];
                  if (ih < 0 || ih >= s.in[1]) continue;
                  const T* yl = yp + (od * out[1] + oh) * out[2];
                  const T* xl = xp + (id * s.in[1] + ih) * s.in[2];
                  for (int64_t v = 0; v < nv; ++v) {
                    const V d = S::load(cols.col[0].out[v], yl + v * L);
                    // d * x, with the dy register in the place of the weight
                    const int64_t m = kw_n - kw0;
                    a[0] = S::fmadd(d, cols.col[kw0].gather(xl, v), a[0]);
                    if (m > 1) a[1] = S::fmadd(d, cols.col[kw0 + 1].gather(xl, v), a[1]);
                    if (m > 2) a[2] = S::fmadd(d, cols.col[kw0 + 2].gather(xl, v), a[2]);
                    if (m > 3) a[3] = S::fmadd(d, cols.col[kw0 + 3].gather(xl, v), a[3]);
                  }
                }
              }
            }
            T* dst = dwk + (kd * s.kernel[1] + kh) * kw_n + kw0;
            for (int64_t j = 0; j < 4 && kw0 + j < kw_n; ++j)
              dst[j] += S::sum(a[j]);
          }
    }
  }
}

#else  // no AVX-512: the im2col + GEMM path serves every shape

bool conv_prefers_direct(const ConvShape&) {
  return false;
}

template <typename T>
void conv_direct_forward(const ConvShape& s, const T*, const T*, const T*, T*) {
  throw Error(s.str() + ": the direct convolution needs an AVX-512 build");
}
template <typename T>
void conv_direct_backward(const ConvShape& s, const T*, const T*, const T*, T*, T*) {
  throw Error(s.str() + ": the direct convolution needs an AVX-512 build");
}

#endif  // __AVX512F__

template void conv_direct_forward<float>(const ConvShape&, const float*, const float*, const float*,
                                         float*);
template void conv_direct_forward<double>(const ConvShape&, const double*, const double*,
                                          const double*, double*);
template void conv_direct_backward<float>(const ConvShape&, const float*, const float*,
                                          const float*, float*, float*);
template void conv_direct_backward<double>(const ConvShape&, const double*, const double*,
                                           const double*, double*, double*);

}  // namespace nsal::kernels::cpu

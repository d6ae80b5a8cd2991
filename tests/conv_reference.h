// Direct convolution in plain loops and float64: the reference the conv kernels are tested and
// benchmarked against. Slow on purpose; written straight from the definition
//   y[n, k, o] = bias[k] + sum_{c in group(k), t in kernel} w[k, c, t] * x[n, c, o * stride - pad
//                + t * dilation]   (positions in the padding read as zero)
#pragma once

#include <vector>

#include "kernels/conv_shape.h"

namespace nsal::testing {

struct ConvReference {
  const kernels::ConvShape& s;

  // Calls f(y_index, x_index, w_index) for every multiply-add of the forward pass.
  template <typename F>
  void for_each_term(F f) const {
    const kernels::Dims3 out = s.out();
    const int64_t cg = s.c_per_group(), kg = s.k_per_group();
    for (int64_t n = 0; n < s.n; ++n)
      for (int64_t k = 0; k < s.k; ++k) {
        const int64_t g = k / kg;
        for (int64_t od = 0; od < out[0]; ++od)
          for (int64_t oh = 0; oh < out[1]; ++oh)
            for (int64_t ow = 0; ow < out[2]; ++ow) {
              const int64_t yi = (((n * s.k + k) * out[0] + od) * out[1] + oh) * out[2] + ow;
              for (int64_t c = 0; c < cg; ++c)
                for (int64_t td = 0; td < s.kernel[0]; ++td)
                  for (int64_t th = 0; th < s.kernel[1]; ++th)
                    for (int64_t tw = 0; tw < s.kernel[2]; ++tw) {
                      const int64_t id = od * s.stride[0] - s.pad[0] + td * s.dilation[0];
                      const int64_t ih = oh * s.stride[1] - s.pad[1] + th * s.dilation[1];
                      const int64_t iw = ow * s.stride[2] - s.pad[2] + tw * s.dilation[2];
                      if (id < 0 || id >= s.in[0] || ih < 0 || ih >= s.in[1] || iw < 0 ||
                          iw >= s.in[2])
                        continue;
                      const int64_t ci = g * cg + c;
                      const int64_t xi =
                          (((n * s.c + ci) * s.in[0] + id) * s.in[1] + ih) * s.in[2] + iw;
                      const int64_t wi =
                          (((k * cg + c) * s.kernel[0] + td) * s.kernel[1] + th) * s.kernel[2] + tw;
                      f(yi, xi, wi);
                    }
            }
      }
  }

  // y (N, K, out...) in float64. bias may be null.
  template <typename T>
  std::vector<double> forward(const T* x, const T* w, const T* bias) const {
    std::vector<double> y(static_cast<size_t>(s.y_numel()), 0.0);
    const int64_t out = s.out_size();
    if (bias)
      for (int64_t i = 0; i < s.y_numel(); ++i)
        y[i] = static_cast<double>(bias[(i / out) % s.k]);
    for_each_term([&](int64_t yi, int64_t xi, int64_t wi) {
      y[yi] += static_cast<double>(w[wi]) * static_cast<double>(x[xi]);
    });
    return y;
  }

  // Gradients for an output gradient dy, in float64: dx, dw, db (not accumulated).
  template <typename T>
  void backward(const T* x, const T* w, const T* dy, std::vector<double>& dx,
                std::vector<double>& dw, std::vector<double>& db) const {
    dx.assign(static_cast<size_t>(s.x_numel()), 0.0);
    dw.assign(static_cast<size_t>(s.w_numel()), 0.0);
    db.assign(static_cast<size_t>(s.k), 0.0);
    const int64_t out = s.out_size();
    for (int64_t i = 0; i < s.y_numel(); ++i)
      db[(i / out) % s.k] += static_cast<double>(dy[i]);
    for_each_term([&](int64_t yi, int64_t xi, int64_t wi) {
      dx[xi] += static_cast<double>(w[wi]) * static_cast<double>(dy[yi]);
      dw[wi] += static_cast<double>(x[xi]) * static_cast<double>(dy[yi]);
    });
  }
};

}  // namespace nsal::testing

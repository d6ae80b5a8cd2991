// Plain float64 references for the GPU op tests: naive loops written from the definitions
// (PyTorch's semantics), independent of the kernels under test. test_gpu_reference.cpp checks
// every backward here against finite differences of its forward, so a GPU op that matches these
// matches the mathematics.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/conv_params.h"

namespace nsal::ref {

using Vec = std::vector<double>;

// ---- convolution: 2D handled as 3D with a leading depth of 1 -------------------------------
struct Conv3 {
  int n, ci, co, g;
  int in[3], k[3], s[3], p[3], d[3], out[3];
};
inline Conv3 conv3(const kernels::ConvParams& cp) {
  Conv3 c{cp.n,      cp.c_in,   cp.c_out,  cp.groups, {1, 1, 1},
          {1, 1, 1}, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}, {1, 1, 1}};
  const int o = cp.spatial == 3 ? 0 : 1;
  for (int i = 0; i < cp.spatial; ++i) {
    c.in[o + i] = cp.in[i];
    c.k[o + i] = cp.kernel[i];
    c.s[o + i] = cp.stride[i];
    c.p[o + i] = cp.pad[i];
    c.d[o + i] = cp.dilation[i];
    c.out[o + i] = cp.out(i);
  }
  return c;
}

// Visits every (output index, input index, weight index) triple of the convolution.
template <typename F>
void conv_visit(const kernels::ConvParams& cp, F f) {
  Conv3 c = conv3(cp);
  const int cig = c.ci / c.g, cog = c.co / c.g;
  for (int b = 0; b < c.n; ++b)
    for (int oc = 0; oc < c.co; ++oc) {
      const int grp = oc / cog;
      for (int z = 0; z < c.out[0]; ++z)
        for (int y = 0; y < c.out[1]; ++y)
          for (int x = 0; x < c.out[2]; ++x) {
            const int64_t yi =
                (((int64_t{b} * c.co + oc) * c.out[0] + z) * c.out[1] + y) * c.out[2] + x;
            for (int icg = 0; icg < cig; ++icg) {
              const int ic = grp * cig + icg;
              for (int kz = 0; kz < c.k[0]; ++kz) {
                const int iz = z * c.s[0] - c.p[0] + kz * c.d[0];
                if (iz < 0 || iz >= c.in[0]) continue;
                for (int ky = 0; ky < c.k[1]; ++ky) {
                  const int iy = y * c.s[1] - c.p[1] + ky * c.d[1];
                  if (iy < 0 || iy >= c.in[1]) continue;
                  for (int kx = 0; kx < c.k[2]; ++kx) {
                    const int ix = x * c.s[2] - c.p[2] + kx * c.d[2];
                    if (ix < 0 || ix >= c.in[2]) continue;
                    const int64_t xi =
                        (((int64_t{b} * c.ci + ic) * c.in[0] + iz) * c.in[1] + iy) * c.in[2] + ix;
                    const int64_t wi =
                        (((int64_t{oc} * cig + icg) * c.k[0] + kz) * c.k[1] + ky) * c.k[2] + kx;
                    f(yi, xi, wi);
                  }
                }
              }
            }
          }
    }
}

inline Vec conv_forward(const kernels::ConvParams& p, const Vec& x, const Vec& w, const Vec* b) {
  Vec y(static_cast<size_t>(p.y_numel()), 0.0);
  conv_visit(p, [&](int64_t yi, int64_t xi, int64_t wi) { y[yi] += x[xi] * w[wi]; });
  if (b) {
    const int64_t s = p.out_spatial();
    for (size_t i = 0; i < y.size(); ++i)
      y[i] += (*b)[(i / s) % p.c_out];
  }
  return y;
}
inline Vec conv_backward_data(const kernels::ConvParams& p, const Vec& dy, const Vec& w) {
  Vec dx(static_cast<size_t>(p.x_numel()), 0.0);
  conv_visit(p, [&](int64_t yi, int64_t xi, int64_t wi) { dx[xi] += dy[yi] * w[wi]; });
  return dx;
}
inline Vec conv_backward_filter(const kernels::ConvParams& p, const Vec& x, const Vec& dy) {
  Vec dw(static_cast<size_t>(p.w_numel()), 0.0);
  conv_visit(p, [&](int64_t yi, int64_t xi, int64_t wi) { dw[wi] += dy[yi] * x[xi]; });
  return dw;
}
// Per-channel sums of dy (N, C, S).
inline Vec channel_sums(const Vec& dy, int64_t n, int64_t c, int64_t s) {
  Vec r(static_cast<size_t>(c), 0.0);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t j = 0; j < s; ++j)
        r[ch] += dy[(b * c + ch) * s + j];
  return r;
}

// ---- batch norm over (N, C, S) --------------------------------------------------------------
struct BnTrain {
  Vec y, mean, var_biased, var_unbiased;
};
inline BnTrain bn_train(const Vec& x, int64_t n, int64_t c, int64_t s, const Vec& gamma,
                        const Vec& beta, double eps) {
  BnTrain r{Vec(x.size()), Vec(c), Vec(c), Vec(c)};
  const double m = static_cast<double>(n * s);
  for (int64_t ch = 0; ch < c; ++ch) {
    double sum = 0, sq = 0;
    for (int64_t b = 0; b < n; ++b)
      for (int64_t j = 0; j < s; ++j)
        sum += x[(b * c + ch) * s + j];
    const double mean = sum / m;
    for (int64_t b = 0; b < n; ++b)
      for (int64_t j = 0; j < s; ++j) {
        double d = x[(b * c + ch) * s + j] - mean;
        sq += d * d;
      }
    r.mean[ch] = mean;
    r.var_biased[ch] = sq / m;
    r.var_unbiased[ch] = sq / (m - 1);
    const double inv = 1.0 / std::sqrt(r.var_biased[ch] + eps);
    for (int64_t b = 0; b < n; ++b)
      for (int64_t j = 0; j < s; ++j) {
        int64_t i = (b * c + ch) * s + j;
        r.y[i] = gamma[ch] * (x[i] - mean) * inv + beta[ch];
      }
  }
  return r;
}
inline Vec bn_eval(const Vec& x, int64_t n, int64_t c, int64_t s, const Vec& gamma, const Vec& beta,
                   const Vec& mean, const Vec& var, double eps) {
  Vec y(x.size());
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t j = 0; j < s; ++j) {
        int64_t i = (b * c + ch) * s + j;
        y[i] = gamma[ch] * (x[i] - mean[ch]) / std::sqrt(var[ch] + eps) + beta[ch];
      }
  return y;
}
struct BnGrads {
  Vec dx, dgamma, dbeta;
};
// Backward of the training forward (batch statistics).
inline BnGrads bn_backward(const Vec& x, const Vec& dy, int64_t n, int64_t c, int64_t s,
                           const Vec& gamma, double eps) {
  BnGrads g{Vec(x.size()), Vec(c), Vec(c)};
  BnTrain f = bn_train(x, n, c, s, Vec(c, 1.0), Vec(c, 0.0), eps);  // f.y = x_hat
  const double m = static_cast<double>(n * s);
  for (int64_t ch = 0; ch < c; ++ch) {
    double sdy = 0, sdyx = 0;
    for (int64_t b = 0; b < n; ++b)
      for (int64_t j = 0; j < s; ++j) {
        int64_t i = (b * c + ch) * s + j;
        sdy += dy[i];
        sdyx += dy[i] * f.y[i];
      }
    g.dbeta[ch] = sdy;
    g.dgamma[ch] = sdyx;
    const double inv = 1.0 / std::sqrt(f.var_biased[ch] + eps);
    for (int64_t b = 0; b < n; ++b)
      for (int64_t j = 0; j < s; ++j) {
        int64_t i = (b * c + ch) * s + j;
        g.dx[i] = gamma[ch] * inv * (dy[i] - sdy / m - f.y[i] * sdyx / m);
      }
  }
  return g;
}

// ---- pooling (2D as 3D with depth 1) ---------------------------------------------------------
struct Pool3 {
  int n, c, in[3], k[3], s[3], p[3], out[3];
};
inline Pool3 pool3(const kernels::PoolParams& pp) {
  Pool3 q{pp.n, pp.c, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}};
  const int o = pp.spatial == 3 ? 0 : 1;
  for (int i = 0; i < pp.spatial; ++i) {
    q.in[o + i] = pp.in[i];
    q.k[o + i] = pp.kernel[i];
    q.s[o + i] = pp.stride[i];
    q.p[o + i] = pp.pad[i];
    q.out[o + i] = pp.out(i);
  }
  return q;
}
// For each output: the list of (input index) in its window, in row-major order (inside the
// input only), and the count including padding.
template <typename F>
void pool_visit(const kernels::PoolParams& pp, F f) {
  Pool3 q = pool3(pp);
  for (int b = 0; b < q.n * q.c; ++b)
    for (int z = 0; z < q.out[0]; ++z)
      for (int y = 0; y < q.out[1]; ++y)
        for (int x = 0; x < q.out[2]; ++x) {
          const int64_t oi = ((int64_t{b} * q.out[0] + z) * q.out[1] + y) * q.out[2] + x;
          std::vector<int64_t> cells;
          for (int kz = 0; kz < q.k[0]; ++kz)
            for (int ky = 0; ky < q.k[1]; ++ky)
              for (int kx = 0; kx < q.k[2]; ++kx) {
                int iz = z * q.s[0] - q.p[0] + kz, iy = y * q.s[1] - q.p[1] + ky,
                    ix = x * q.s[2] - q.p[2] + kx;
                if (iz < 0 || iy < 0 || ix < 0 || iz >= q.in[0] || iy >= q.in[1] || ix >= q.in[2])
                  continue;
                cells.push_back(((int64_t{b} * q.in[0] + iz) * q.in[1] + iy) * q.in[2] + ix);
              }
          f(oi, cells, q.k[0] * q.k[1] * q.k[2]);
        }
}
// Max pool with PyTorch's rule: first maximum in row-major order, a NaN takes over.
inline int64_t pool_argmax(const Vec& x, const std::vector<int64_t>& cells) {
  int64_t best = cells.front();
  double m = -std::numeric_limits<double>::infinity();
  for (int64_t i : cells)
    if (x[i] > m || std::isnan(x[i])) {
      m = x[i];
      best = i;
    }
  return best;
}
inline Vec pool_forward(const kernels::PoolParams& pp, const Vec& x) {
  Vec y(static_cast<size_t>(pp.y_numel()));
  pool_visit(pp, [&](int64_t oi, const std::vector<int64_t>& cells, int window) {
    if (pp.mode == kernels::PoolMode::max) {
      y[oi] = x[pool_argmax(x, cells)];
      return;
    }
    double sum = 0;
    for (int64_t i : cells)
      sum += x[i];
    y[oi] = sum / (pp.mode == kernels::PoolMode::avg_include_pad ? window : cells.size());
  });
  return y;
}
inline Vec pool_backward(const kernels::PoolParams& pp, const Vec& x, const Vec& dy) {
  Vec dx(static_cast<size_t>(pp.x_numel()), 0.0);
  pool_visit(pp, [&](int64_t oi, const std::vector<int64_t>& cells, int window) {
    if (pp.mode == kernels::PoolMode::max) {
      dx[pool_argmax(x, cells)] += dy[oi];
      return;
    }
    const double div =
        pp.mode == kernels::PoolMode::avg_include_pad ? window : static_cast<double>(cells.size());
    for (int64_t i : cells)
      dx[i] += dy[oi] / div;
  });
  return dx;
}

// ---- linear: y (N, out) = x (N, in) w^T + b -------------------------------------------------
inline Vec linear_forward(const Vec& x, const Vec& w, const Vec* b, int64_t n, int64_t in,
                          int64_t out) {
  Vec y(static_cast<size_t>(n * out));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double s = b ? (*b)[o] : 0.0;
      for (int64_t k = 0; k < in; ++k)
        s += x[r * in + k] * w[o * in + k];
      y[r * out + o] = s;
    }
  return y;
}

// ---- softmax over dim 1 of (N, C, P) --------------------------------------------------------
inline Vec softmax(const Vec& x, int64_t n, int64_t c, int64_t p, bool log) {
  Vec y(x.size());
  for (int64_t b = 0; b < n; ++b)
    for (int64_t q = 0; q < p; ++q) {
      double m = -std::numeric_limits<double>::infinity(), s = 0;
      for (int64_t k = 0; k < c; ++k)
        m = std::max(m, x[(b * c + k) * p + q]);
      for (int64_t k = 0; k < c; ++k)
        s += std::exp(x[(b * c + k) * p + q] - m);
      for (int64_t k = 0; k < c; ++k) {
        double v = x[(b * c + k) * p + q] - m;
        y[(b * c + k) * p + q] = log ? v - std::log(s) : std::exp(v) / s;
      }
    }
  return y;
}
// Cross-entropy (PyTorch): mean = sum w[y] nll / sum w[y] over kept elements, or the sum.
struct CrossEntropy {
  double loss, weight_sum;
  Vec dlogits;  // for dloss = 1
};
inline CrossEntropy cross_entropy(const Vec& x, const std::vector<int32_t>& labels, const Vec* w,
                                  int64_t n, int64_t c, int64_t p, int32_t ignore, bool mean) {
  Vec logp = softmax(x, n, c, p, true);
  CrossEntropy r{0, 0, Vec(x.size(), 0.0)};
  for (int64_t b = 0; b < n; ++b)
    for (int64_t q = 0; q < p; ++q) {
      int32_t y = labels[b * p + q];
      if (y == ignore) continue;
      double wy = w ? (*w)[y] : 1.0;
      r.loss -= wy * logp[(b * c + y) * p + q];
      r.weight_sum += wy;
    }
  const double scale = mean ? 1.0 / r.weight_sum : 1.0;
  if (mean) r.loss /= r.weight_sum;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t q = 0; q < p; ++q) {
      int32_t y = labels[b * p + q];
      if (y == ignore) continue;
      double wy = w ? (*w)[y] : 1.0;
      for (int64_t k = 0; k < c; ++k) {
        int64_t i = (b * c + k) * p + q;
        r.dlogits[i] = scale * wy * (std::exp(logp[i]) - (k == y ? 1.0 : 0.0));
      }
    }
  return r;
}

// ---- bilinear upsampling, align_corners=False (PyTorch's formulas, float index math) --------
struct Tap {
  int64_t i0, i1;
  double l0, l1;
};
inline Tap source_tap(int64_t dst, int64_t in, int64_t out) {
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  float src = scale * (static_cast<float>(dst) + 0.5f) - 0.5f;
  src = src < 0.f ? 0.f : src;
  int64_t i0 = std::min(static_cast<int64_t>(std::floor(src)), in - 1);
  int64_t i1 = i0 + (i0 < in - 1 ? 1 : 0);
  float l1 = src - static_cast<float>(i0);
  return {i0, i1, 1.0f - l1, l1};
}
inline Vec bilinear_forward(const Vec& x, int64_t planes, int h, int w, int oh, int ow) {
  Vec y(static_cast<size_t>(planes * oh * ow));
  for (int64_t pl = 0; pl < planes; ++pl)
    for (int oy = 0; oy < oh; ++oy) {
      Tap ty = source_tap(oy, h, oh);
      for (int ox = 0; ox < ow; ++ox) {
        Tap tx = source_tap(ox, w, ow);
        const double* p = x.data() + pl * h * w;
        y[(pl * oh + oy) * ow + ox] =
            ty.l0 * (tx.l0 * p[ty.i0 * w + tx.i0] + tx.l1 * p[ty.i0 * w + tx.i1]) +
            ty.l1 * (tx.l0 * p[ty.i1 * w + tx.i0] + tx.l1 * p[ty.i1 * w + tx.i1]);
      }
    }
  return y;
}
// Scatter formulation (the transpose of forward, written directly).
inline Vec bilinear_backward(const Vec& dy, int64_t planes, int h, int w, int oh, int ow) {
  Vec dx(static_cast<size_t>(planes * h * w), 0.0);
  for (int64_t pl = 0; pl < planes; ++pl)
    for (int oy = 0; oy < oh; ++oy) {
      Tap ty = source_tap(oy, h, oh);
      for (int ox = 0; ox < ow; ++ox) {
        Tap tx = source_tap(ox, w, ow);
        const double g = dy[(pl * oh + oy) * ow + ox];
        double* p = dx.data() + pl * h * w;
        p[ty.i0 * w + tx.i0] += ty.l0 * tx.l0 * g;
        p[ty.i0 * w + tx.i1] += ty.l0 * tx.l1 * g;
        p[ty.i1 * w + tx.i0] += ty.l1 * tx.l0 * g;
        p[ty.i1 * w + tx.i1] += ty.l1 * tx.l1 * g;
      }
    }
  return dx;
}

}  // namespace nsal::ref

// Per-pixel work of the deviation kernels (kernels/deviation.h), written once for the CPU loop
// and the CUDA kernels. Values of one pixel are `stride` elements apart (stride = P).
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/hd.h"

namespace nsal::kernels {

NSAL_HD double dev_exp(double x) {
#ifdef __CUDA_ARCH__
  return ::exp(x);
#else
  return std::exp(x);
#endif
}

NSAL_HD bool dev_finite(float x) {
#ifdef __CUDA_ARCH__
  return isfinite(x);
#else
  return std::isfinite(x);
#endif
}

// Max and sum of exp(x - max) over C values; false when a value is not finite.
NSAL_HD bool softmax_stats(const float* x, int64_t c, int64_t stride, double& mx, double& sum) {
  mx = -HUGE_VAL;
  bool finite = true;
  for (int64_t k = 0; k < c; ++k) {
    const float v = x[k * stride];
    finite = finite && dev_finite(v);
    mx = v > mx ? static_cast<double>(v) : mx;
  }
  sum = 0.0;
  if (!finite) return false;
  for (int64_t k = 0; k < c; ++k)
    sum += dev_exp(static_cast<double>(x[k * stride]) - mx);
  return true;
}

// Squared L2 distance between g(b) and g(a) over C values (g = softmax or identity). Sets
// finite = false (and returns 0) when either input holds a non-finite value.
NSAL_HD double pixel_sq_deviation(const float* a, const float* b, int64_t c, int64_t stride,
                                  bool softmax, bool& finite) {
  double acc = 0.0;
  if (softmax) {
    double ma, sa, mb, sb;
    const bool fa = softmax_stats(a, c, stride, ma, sa);  // both always computed
    const bool fb = softmax_stats(b, c, stride, mb, sb);
    finite = fa && fb;
    if (!finite) return 0.0;
    for (int64_t k = 0; k < c; ++k) {
      const double d = dev_exp(static_cast<double>(b[k * stride]) - mb) / sb -
                       dev_exp(static_cast<double>(a[k * stride]) - ma) / sa;
      acc += d * d;
    }
    return acc;
  }
  finite = true;
  for (int64_t k = 0; k < c; ++k) {
    const float av = a[k * stride], bv = b[k * stride];
    finite = finite && dev_finite(av) && dev_finite(bv);
    const double d = static_cast<double>(bv) - static_cast<double>(av);
    acc += d * d;
  }
  return finite ? acc : 0.0;
}

// One row of the `released` vectors: out[k] = (g(b)_k - g(a)_k) / ||g(a)|| for k < C. Returns
// false (and writes NaN) when an input is not finite or ||g(a)|| is zero. In the same pass, with
// `sq` given: *sq = the squared L2 distance between g(b) and g(a) (pixel_sq_deviation's value,
// the same arithmetic bit for bit) and *finite = whether every input was finite (*sq is 0 if
// not); a zero ||g(a)|| leaves both meaningful.
NSAL_HD bool deviation_vector_row(const float* a, const float* b, int64_t c, bool softmax,
                                  float* out, double* sq = nullptr, bool* finite = nullptr) {
  double ma = 0, sa = 1, mb = 0, sb = 1;
  bool ok = true;
  if (softmax) {
    const bool fa = softmax_stats(a, c, 1, ma, sa);  // both always computed
    const bool fb = softmax_stats(b, c, 1, mb, sb);
    ok = fa && fb;
  } else {
    for (int64_t k = 0; k < c; ++k)
      ok = ok && dev_finite(a[k]) && dev_finite(b[k]);
  }
  if (finite) *finite = ok;
  if (sq) *sq = 0.0;
  double norm2 = 0.0;
  if (ok) {
    for (int64_t k = 0; k < c; ++k) {
      const double ga = softmax ? dev_exp(static_cast<double>(a[k]) - ma) / sa : a[k];
      norm2 += ga * ga;
    }
  }
  const bool nonzero = ok && norm2 > 0.0;
  const double inv = nonzero ? 1.0 / sqrt(norm2) : 0.0;
  double acc = 0.0;
  for (int64_t k = 0; k < c; ++k) {
    if (!ok) {
      out[k] = NAN;
      continue;
    }
    // The probabilities as pixel_sq_deviation forms them (b minus a in one expression).
    const double d = softmax ? dev_exp(static_cast<double>(b[k]) - mb) / sb -
                                   dev_exp(static_cast<double>(a[k]) - ma) / sa
                             : static_cast<double>(b[k]) - static_cast<double>(a[k]);
    acc += d * d;
    out[k] = nonzero ? static_cast<float>(d * inv) : NAN;
  }
  if (sq && ok) *sq = acc;
  return nonzero;
}

// score += sq (through double), or NaN when the sample's outputs were not finite.
NSAL_HD void accumulate_row_score(float& score, double sq, bool finite) {
  score = finite ? static_cast<float>(static_cast<double>(score) + sq) : NAN;
}

}  // namespace nsal::kernels

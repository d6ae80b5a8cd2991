#include <cmath>
#include <vector>

#include "kernels/optim.h"

namespace nsal::kernels::cpu {

void sgd_step(float* w, const float* g, float* buf, int64_t n, const SgdParams& p) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    float b = buf ? buf[i] : 0.0f;
    sgd_update(w[i], g[i], b, p);
    if (buf) buf[i] = b;
  }
}

void adam_step(float* w, const float* g, float* m, float* v, int64_t n, const AdamParams& p) {
  // In float, as nsal has always computed them here (the recorded CPU results depend on these
  // bits); the GPU computes them in double from its device step count (adam_bias_corrections),
  // up to about 3e-6 relative apart at small steps (1 - beta2^step cancels in float).
  float c1 = 1.0f - std::pow(p.beta1, static_cast<float>(p.step));
  float c2 = std::sqrt(1.0f - std::pow(p.beta2, static_cast<float>(p.step)));
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i)
    adam_update(w[i], g[i], m[i], v[i], p, c1, c2);
}

// Fixed-size chunks summed in double, then the partials added in index order: the result does
// not depend on the thread count.
double sum_squares(const float* x, int64_t n) {
  constexpr int64_t kChunk = 1 << 14;
  int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(static_cast<size_t>(chunks), 0.0);
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c) {
    double s = 0;
    int64_t end = std::min(n, (c + 1) * kChunk);
    for (int64_t i = c * kChunk; i < end; ++i)
      s += static_cast<double>(x[i]) * x[i];
    partial[static_cast<size_t>(c)] = s;
  }
  double total = 0;
  for (double s : partial)
    total += s;
  return total;
}

void scale_inplace(float* x, int64_t n, float s) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i)
    x[i] *= s;
}

}  // namespace nsal::kernels::cpu

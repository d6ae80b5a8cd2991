#include "kernels/cpu/softmax_cpu.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/cpu/parallel.h"

namespace nsal::kernels::cpu {

// Positions along S are handled in tiles so that the loops over a tile are contiguous in memory
// and vectorise, while C (usually small) is walked with stride S.
constexpr int64_t kTile = 64;

// Calls f(n, s0, len) for every tile of every sample, in parallel.
template <typename F>
static void for_each_tile(int64_t N, int64_t C, int64_t S, F&& f) {
  const int64_t tiles = (S + kTile - 1) / kTile;
#pragma omp parallel for schedule(static) if (N * C * S >= kParallelMinWork)
  for (int64_t t = 0; t < N * tiles; ++t) {
    const int64_t n = t / tiles, s0 = (t % tiles) * kTile;
    f(n, s0, std::min(kTile, S - s0));
  }
}

// mx[j] = max_c x[c, j] and lse[j] = log sum_c exp(x[c, j] - mx[j]) + mx[j] over one tile.
template <typename T>
static void tile_lse(const T* x, int64_t C, int64_t S, int64_t len, double* mx, double* lse) {
  for (int64_t j = 0; j < len; ++j)
    mx[j] = -std::numeric_limits<double>::infinity();
  for (int64_t c = 0; c < C; ++c) {
    const T* xc = x + c * S;
    for (int64_t j = 0; j < len; ++j)
      mx[j] = std::max(mx[j], static_cast<double>(xc[j]));
  }
  double sum[kTile] = {};
  for (int64_t c = 0; c < C; ++c) {
    const T* xc = x + c * S;
    for (int64_t j = 0; j < len; ++j)
      sum[j] += std::exp(static_cast<double>(xc[j]) - mx[j]);
  }
  // A +inf logit makes exp(inf - inf) NaN and the whole row NaN, as in PyTorch and on the GPU;
  // an all -inf row is NaN too.
  for (int64_t j = 0; j < len; ++j)
    lse[j] = mx[j] + std::log(sum[j]);
}

template <typename T>
void softmax_forward(const T* x, T* y, int64_t N, int64_t C, int64_t S, bool log) {
  for_each_tile(N, C, S, [&](int64_t n, int64_t s0, int64_t len) {
    const T* xt = x + n * C * S + s0;
    T* yt = y + n * C * S + s0;
    double mx[kTile], lse[kTile];
    tile_lse(xt, C, S, len, mx, lse);
    for (int64_t c = 0; c < C; ++c)
      for (int64_t j = 0; j < len; ++j) {
        const double z = static_cast<double>(xt[c * S + j]) - lse[j];
        yt[c * S + j] = static_cast<T>(log ? z : std::exp(z));
      }
  });
}

template <typename T>
void softmax_backward(const T* y, const T* dy, T* dx, int64_t N, int64_t C, int64_t S, bool log) {
  for_each_tile(N, C, S, [&](int64_t n, int64_t s0, int64_t len) {
    const int64_t base = n * C * S + s0;
    double dot[kTile] = {};
    for (int64_t c = 0; c < C; ++c)
      for (int64_t j = 0; j < len; ++j) {
        const int64_t i = base + c * S + j;
        dot[j] += log ? static_cast<double>(dy[i])
                      : static_cast<double>(dy[i]) * static_cast<double>(y[i]);
      }
    for (int64_t c = 0; c < C; ++c)
      for (int64_t j = 0; j < len; ++j) {
        const int64_t i = base + c * S + j;
        const double g = static_cast<double>(dy[i]), out = static_cast<double>(y[i]);
        dx[i] = static_cast<T>(log ? g - std::exp(out) * dot[j] : out * (g - dot[j]));
      }
  });
}

template <typename T>
void logsumexp_dim1(const T* x, double* lse, int64_t N, int64_t C, int64_t S) {
  for_each_tile(N, C, S, [&](int64_t n, int64_t s0, int64_t len) {
    double mx[kTile], l[kTile];
    tile_lse(x + n * C * S + s0, C, S, len, mx, l);
    for (int64_t j = 0; j < len; ++j)
      lse[n * S + s0 + j] = l[j];
  });
}

#define NSAL_INSTANTIATE(T)                                                                   \
  template void softmax_forward<T>(const T*, T*, int64_t, int64_t, int64_t, bool);            \
  template void softmax_backward<T>(const T*, const T*, T*, int64_t, int64_t, int64_t, bool); \
  template void logsumexp_dim1<T>(const T*, double*, int64_t, int64_t, int64_t);
NSAL_INSTANTIATE(float)
NSAL_INSTANTIATE(double)
#undef NSAL_INSTANTIATE

}  // namespace nsal::kernels::cpu

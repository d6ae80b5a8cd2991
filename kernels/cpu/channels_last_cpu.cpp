#include "kernels/cpu/channels_last_cpu.h"

#include "kernels/channels_last.h"

namespace nsal::kernels::cpu {

void to_channels_last_bf16(const float* x, int64_t n, int64_t c, int64_t s, uint16_t* y) {
  const int64_t total = n * c * s;
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < total; ++t)
    y[t] = to_bf16(x[channels_first_index(t, c, s)]);
}

void from_channels_last_bf16(const uint16_t* x, int64_t n, int64_t c, int64_t s, float* y) {
  const int64_t total = n * c * s;
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < total; ++t)
    y[channels_first_index(t, c, s)] = from_bf16(x[t]);
}

void round_to_bf16(float* x, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i)
    x[i] = round_bf16(x[i]);
}

void conv_epilogue_channels_last_bf16(const float* conv, const uint16_t* residual,
                                      const uint16_t* bias, bool relu, int64_t n, int64_t c,
                                      int64_t s, uint16_t* y) {
  const int64_t total = n * c * s;
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < total; ++t) {
    const float r = residual ? from_bf16(residual[t]) : 0.f;
    const float b = bias ? from_bf16(bias[t % c]) : 0.f;
    y[t] = bias_residual_act_bf16(conv[channels_first_index(t, c, s)], r, b, relu);
  }
}

void global_avg_pool_channels_last_bf16(const uint16_t* x, int64_t n, int64_t s, int64_t c,
                                        float* y) {
  const int64_t total = n * c;
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < total; ++t)
    y[t] = mean_over_space_bf16(x, t / c, t % c, s, c);
}

}  // namespace nsal::kernels::cpu

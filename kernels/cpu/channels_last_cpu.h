// The bf16 channels-last inference path on the CPU (nn/fuse.h): layout changes with rounding,
// the convolution epilogue and the global average pool, each the plain reference of its CUDA
// kernel (kernels/cuda_ops.h, same per-element rules: kernels/channels_last.h).
#pragma once

#include <cstdint>

namespace nsal::kernels::cpu {

// y (N, S, C) bf16 = x (N, C, S) float32 rounded to nearest even. Also turns conv weights
// (O, I, K) into (O, K, I) with n = O, c = I, s = K.
void to_channels_last_bf16(const float* x, int64_t n, int64_t c, int64_t s, uint16_t* y);
// The inverse, exact: y (N, C, S) float32 from x (N, S, C) bf16.
void from_channels_last_bf16(const uint16_t* x, int64_t n, int64_t c, int64_t s, float* y);
// x[i] rounded to the nearest bfloat16, in place (float32 storage).
void round_to_bf16(float* x, int64_t n);
// y (N, S, C) bf16 = act(conv + residual + bias) rounded once, from conv (N, C, S) float32,
// residual (N, S, C) bf16 or null, bias (C,) bf16 or null; act = ReLU or identity.
void conv_epilogue_channels_last_bf16(const float* conv, const uint16_t* residual,
                                      const uint16_t* bias, bool relu, int64_t n, int64_t c,
                                      int64_t s, uint16_t* y);
// y (N, C) float32 = mean over S of x (N, S, C) bf16 (double sums in the order of S).
void global_avg_pool_channels_last_bf16(const uint16_t* x, int64_t n, int64_t s, int64_t c,
                                        float* y);

}  // namespace nsal::kernels::cpu

// Per-element rules of the bf16 channels-last inference path (nn/fuse.h), written once for the
// CPU loops (kernels/cpu/channels_last_cpu.cpp) and the CUDA kernels
// (kernels/cuda/channels_last.cu), so both backends give the same bits.
//
// Layouts: an NCHW-style tensor (N, C, S) with S the product of the spatial extents, and its
// channels-last form (N, S, C) in bfloat16 (kernels/bf16.h). Convolution weights (O, I, K) take
// the same transform to (O, K, I): cuDNN's NHWC filter layout (KRSC).
#pragma once

#include <cstdint>

#include "kernels/bf16.h"

namespace nsal::kernels {

// Index into (N, C, S) of element t of the channels-last (N, S, C) tensor.
NSAL_HD int64_t channels_first_index(int64_t t, int64_t c, int64_t s) {
  const int64_t k = t % c;
  const int64_t j = (t / c) % s;
  const int64_t i = t / (c * s);
  return (i * c + k) * s + j;
}

// The epilogue of a convolution in the bf16 path, on a value already in float32:
// act(conv + residual + bias), added in that order, rounded once to bfloat16. `residual` and
// `bias` are bfloat16 values as float (0 where absent).
NSAL_HD uint16_t bias_residual_act_bf16(float conv, float residual, float bias, bool relu) {
  float v = conv + residual;
  v = v + bias;
  if (relu) v = v > 0.f ? v : (v != v ? v : 0.f);  // NaN passes, as ReLU does elsewhere
  return to_bf16(v);
}

// Mean over S of channel k of sample i of a channels-last bf16 tensor (N, S, C): summed in
// double in the order of S, divided, rounded to float32 once.
NSAL_HD float mean_over_space_bf16(const uint16_t* x, int64_t i, int64_t k, int64_t s, int64_t c) {
  double sum = 0;
  const uint16_t* p = x + i * s * c + k;
  for (int64_t j = 0; j < s; ++j)
    sum += from_bf16(p[j * c]);
  const float mean = static_cast<float>(sum / static_cast<double>(s));
  return mean == mean ? mean : fp::from_bits(0x7fc00000u);  // one NaN on both backends
}

}  // namespace nsal::kernels

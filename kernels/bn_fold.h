// Folding an inference-mode BatchNorm into the convolution before it (the inference fast path):
//   BN(conv(x, w) + b) = gamma (conv(x, w) + b - mean) / sqrt(var + eps) + beta
//                      = conv(x, w * s) + (b - mean) s + beta,   s = gamma / sqrt(var + eps)
// per output channel. The per-channel math is written once here (in double) and used by the CPU
// loop (kernels/cpu/bn_fold.cpp) and the CUDA kernel (kernels/cuda/bn_fold.cu).
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/hd.h"

namespace nsal::kernels {

struct BnFold {
  double scale;  // multiplies every weight of the output channel
  double bias;   // the folded bias of the output channel
};

NSAL_HD BnFold bn_fold_channel(double gamma, double beta, double mean, double var, double eps,
                               double conv_bias) {
  double s = gamma / ::sqrt(var + eps);
  return BnFold{s, (conv_bias - mean) * s + beta};
}

// Folds channel `o` of a weight laid out (C_out, per_channel) (OIHW / OIDHW: per_channel =
// C_in / groups * kernel volume). conv_bias may be null (no bias); w_out may alias w.
NSAL_HD void bn_fold_apply(int64_t o, int64_t per_channel, const float* w, const float* conv_bias,
                           const float* gamma, const float* beta, const float* mean,
                           const float* var, double eps, float* w_out, float* b_out) {
  BnFold f = bn_fold_channel(gamma[o], beta[o], mean[o], var[o], eps,
                             conv_bias ? static_cast<double>(conv_bias[o]) : 0.0);
  const float* src = w + o * per_channel;
  float* dst = w_out + o * per_channel;
  for (int64_t j = 0; j < per_channel; ++j)
    dst[j] = static_cast<float>(src[j] * f.scale);
  b_out[o] = static_cast<float>(f.bias);
}

namespace cpu {
// Host loop over the output channels (all pointers host memory). Throws for eps <= 0 or
// non-positive sizes.
void bn_fold(int64_t c_out, int64_t per_channel, const float* w, const float* conv_bias,
             const float* gamma, const float* beta, const float* mean, const float* var, double eps,
             float* w_out, float* b_out);
}  // namespace cpu

}  // namespace nsal::kernels

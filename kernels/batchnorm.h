// Per-channel BatchNorm arithmetic shared by the CPU loops and CUDA kernels. Conventions are
// PyTorch's: normalisation uses the biased batch variance, the running variance is updated with
// the unbiased one, and running = (1 - momentum) * running + momentum * batch.
#pragma once

#include <cmath>

#include "kernels/hd.h"

namespace nsal::kernels {

NSAL_HD double bn_invstd(double var, double eps) {
  return 1.0 / sqrt(var + eps);
}

// y = x * scale + shift, with scale = gamma * invstd and shift = beta - mean * scale. gamma and
// beta are 1 and 0 without affine parameters.
NSAL_HD void bn_scale_shift(double gamma, double beta, double mean, double invstd, double& scale,
                            double& shift) {
  scale = gamma * invstd;
  shift = beta - mean * scale;
}

// One running statistic after a training batch (momentum in [0, 1]).
NSAL_HD double bn_running_update(double running, double batch, double momentum) {
  return momentum * batch + (1.0 - momentum) * running;
}

// Unbiased variance from the biased one over `count` values per channel (count > 1).
NSAL_HD double bn_unbiased_var(double biased, double count) {
  return biased * count / (count - 1.0);
}

// Training-mode input gradient as dx = a * dy + b * x + c per channel, from the channel sums
// sum_dy = sum(dy) and sum_dy_xmu = sum(dy * (x - mean)) over `count` values.
NSAL_HD void bn_backward_coeffs(double gamma, double mean, double invstd, double sum_dy,
                                double sum_dy_xmu, double count, double& a, double& b, double& c) {
  a = gamma * invstd;
  b = -a * invstd * invstd * sum_dy_xmu / count;
  c = -a * sum_dy / count - b * mean;
}

}  // namespace nsal::kernels

// Parameter initialisation as PyTorch's defaults, from the Philox stream so that the same seed
// gives the same weights on every machine and backend:
//   conv / linear weight: kaiming_uniform(a = sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in))
//   conv / linear bias:   U(-1/sqrt(fan_in), 1/sqrt(fan_in))
//   batchnorm weight 1, bias 0; running_mean 0, running_var 1, num_batches_tracked 0.
// fan_in = shape[1] * prod(kernel dims) of the layer's weight.
#pragma once

#include <cstdint>

#include "nn/param_arena.h"

namespace nsal {

void init_pytorch_default(ParamArena& arena, uint64_t seed);

}  // namespace nsal

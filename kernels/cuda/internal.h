// Launchers shared between the files of the CUDA backend (not part of the public API).
#pragma once

#include <cuda_runtime.h>

#include "kernels/conv_params.h"
#include "kernels/maxpool.h"

namespace nsal::cuda {

kernels::MaxPoolGeom pool_geom(const kernels::PoolParams& p);
void maxpool_forward_launch(cudaStream_t s, const kernels::PoolParams& p, const float* x, float* y);
void maxpool_backward_launch(cudaStream_t s, const kernels::PoolParams& p, const float* x,
                             const float* dy, float* dx);

}  // namespace nsal::cuda

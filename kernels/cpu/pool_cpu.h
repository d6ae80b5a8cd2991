// Max and average pooling on the CPU over x (N*C planes of (D, H, W)); 2d is depth 1.
#pragma once

#include <cstdint>

#include "kernels/pool.h"

namespace nsal::kernels::cpu {

// y (planes, out_d, out_h, out_w); argmax: flat index within each input plane, for backward.
template <typename T>
void max_pool_forward(const T* x, int64_t planes, const PoolGeom& g, T* y, int32_t* argmax);
// dx = scatter of dy to the saved argmax positions (dx is overwritten).
template <typename T>
void max_pool_backward(const T* dy, const int32_t* argmax, int64_t planes, const PoolGeom& g,
                       T* dx);

template <typename T>
void avg_pool_forward(const T* x, int64_t planes, const PoolGeom& g, bool count_include_pad, T* y);
template <typename T>
void avg_pool_backward(const T* dy, int64_t planes, const PoolGeom& g, bool count_include_pad,
                       T* dx);

// Mean over each plane of `size` elements: y[p] = mean(x[p * size, (p + 1) * size)).
template <typename T>
void global_avg_pool_forward(const T* x, int64_t planes, int64_t size, T* y);
template <typename T>
void global_avg_pool_backward(const T* dy, int64_t planes, int64_t size, T* dx);

}  // namespace nsal::kernels::cpu

// Fully connected layer on the CPU via cblas: x (R, in), weight (out, in), bias (out,), y (R, out).
#pragma once

#include <cstdint>

namespace nsal::kernels::cpu {

// y = x W^T + b (bias may be null).
template <typename T>
void linear_forward(const T* x, const T* weight, const T* bias, T* y, int64_t rows, int64_t in,
                    int64_t out);

// dweight += dy^T x, dbias += column sums of dy (may be null), dx = dy W (may be null).
template <typename T>
void linear_backward(const T* x, const T* weight, const T* dy, T* dx, T* dweight, T* dbias,
                     int64_t rows, int64_t in, int64_t out);

}  // namespace nsal::kernels::cpu

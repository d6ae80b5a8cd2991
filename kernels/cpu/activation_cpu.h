// ReLU and ReLU6 on the CPU over n contiguous elements.
#pragma once

#include <cstdint>

namespace nsal::kernels::cpu {

template <typename T>
void relu_forward(const T* x, T* y, int64_t n);
template <typename T>
void relu_backward(const T* x, const T* dy, T* dx, int64_t n);  // dx = dy * (x > 0); x or y

template <typename T>
void relu6_forward(const T* x, T* y, int64_t n);
template <typename T>
void relu6_backward(const T* x, const T* dy, T* dx, int64_t n);  // dx = dy * (0 < x < 6); x or y

}  // namespace nsal::kernels::cpu

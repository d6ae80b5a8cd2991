// Direct convolution for grouped convolutions with small groups (depthwise and the like).
// im2col + GEMM would run one GEMM per group with K / groups rows, far too small for BLAS, so
// these are plain loops over output lines, vectorised along the width. They need no workspace.
// Layouts as in conv_cpu.h; conv_forward/conv_backward pick this path by themselves.
#pragma once

#include "kernels/conv_shape.h"

namespace nsal::kernels::cpu {

// Grouped with at most 8 output channels per group: depthwise (with a channel multiplier of up
// to 8) and small grouped convolutions.
inline bool conv_prefers_direct(const ConvShape& s) {
  return s.groups > 1 && s.k_per_group() <= 8;
}

// y = conv(x, w) + bias (bias may be null).
template <typename T>
void conv_direct_forward(const ConvShape& s, const T* x, const T* w, const T* bias, T* y);

// dx = conv_transpose(dy, w) when dx is not null (overwritten); dw += correlation of x with dy
// when dw is not null. Every sum runs in a fixed order.
template <typename T>
void conv_direct_backward(const ConvShape& s, const T* x, const T* w, const T* dy, T* dx, T* dw);

}  // namespace nsal::kernels::cpu

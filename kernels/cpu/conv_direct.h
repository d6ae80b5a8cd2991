// Direct convolution for depthwise convolutions (groups == C == K). im2col + GEMM would run one
// GEMM per channel with a single output row, far too small for BLAS, so these are loops over
// output lines in AVX-512 registers: each output register gathers its inputs tap by tap with
// masked loads. The loops take any number of channels per group; they are chosen only where they
// beat the GEMMs (measured: plain depthwise; already with a channel multiplier of 2, or 4
// channels per group, the GEMMs win). They need no workspace. Layouts as in conv_cpu.h;
// conv_forward/conv_backward pick this path by themselves.
#pragma once

#include "kernels/conv_shape.h"

namespace nsal::kernels::cpu {

// Depthwise (one input and one output channel per group), output rows of at most 64 positions,
// width stride 1 or 2 and a filter at most 16 wide; only where the build targets AVX-512.
bool conv_prefers_direct(const ConvShape& s);

// y = conv(x, w) + bias (bias may be null).
template <typename T>
void conv_direct_forward(const ConvShape& s, const T* x, const T* w, const T* bias, T* y);

// dx = conv_transpose(dy, w) when dx is not null (overwritten); dw += correlation of x with dy
// when dw is not null. Every sum runs in a fixed order.
template <typename T>
void conv_direct_backward(const ConvShape& s, const T* x, const T* w, const T* dy, T* dx, T* dw);

}  // namespace nsal::kernels::cpu

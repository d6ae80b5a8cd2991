// Winograd F(2x2, 3x3) convolution on the CPU for 3x3 filters with stride 1, padding 1, no
// dilation and one group (the body of every ResNet stage): each 4x4 input tile and each filter go
// to a 4x4 transformed space where the convolution is 16 independent matrix products over the
// channels, done by BLAS GEMMs, then each product tile goes back to a 2x2 output tile. That is
// 2.25 times fewer multiplications than im2col + GEMM, for a few additions per tile and channel.
//
// Dilated planes (dilation d, padding d, as in drn-d-22's levels 5 to 7) split into d^2 phase
// planes that are plain 3x3 convolutions with padding 1 (winograd_phases.h), which this code
// then runs as d^2 times as many samples, merging the results back.
//
// Volumes (3x3x3 filters with padding 1 in depth too, as in resnet18-3d; or 1x3x3 filters) go
// slice by slice: an output slice is the sum over the filter's 3 depth taps of plane
// convolutions of 3 input slices, which in the transformed space is one product whose inner
// dimension is 3 x channels (each input slice transformed once per chunk of output slices).
//
// The same transforms give the other two passes: the input gradient is this convolution of dy
// with the filter rotated by 180 degrees and its channels swapped, and the filter gradient is
// G^T [sum over tiles of (A dY A^T) * (B^T X B)] G, again 16 GEMMs (whose inner dimension is the
// number of tiles).
//
// Layouts and the workspace contract as in conv_cpu.h. For the forward pass and the input
// gradient, threads take chunks (blocks of samples; for volumes also bands of depth slices) in a
// fixed partition. The chunks depend on the shape alone. The filter gradient sums them in a fixed
// order: in a fixed number of lanes (runs of consecutive chunks, each summed into its own copy,
// the copies then added in lane order) where copies are cheap, else chunk after chunk with the
// threads sharing out each chunk's transforms and 16 GEMMs. Every element is so the same sum in
// the same order on any number of threads. Results are bit-identical from run to run and
// across thread counts. They differ from im2col's in the last bits: the transforms add
// and subtract inputs before the products (float32: differences of about 1e-6 of the output's
// scale, some three times im2col's own).
#pragma once

#include <cstddef>

#include "kernels/conv_shape.h"

namespace nsal::kernels::cpu {

// Whether the geometry is one these functions compute: a 3x3 filter in the plane with stride 1,
// padding equal to the dilation, one group; in depth a filter of 1 without padding or of 3 with
// padding 1 (stride 1; dilated planes only in 2D).
bool conv_winograd_applies(const ConvShape& s);
// The plain (undilated) convolution the work runs as: s itself, or the phase shape of a
// dilated plane (n d^2 samples of ceil(H/d) x ceil(W/d)).
ConvShape conv_winograd_plain_shape(const ConvShape& s);

// Bytes of scratch for either function below on `threads` threads (0: omp_get_max_threads()).
size_t conv_winograd_workspace_bytes(const ConvShape& s, size_t elem_bytes, int threads = 0);

// y = conv(x, w) + bias (bias may be null).
template <typename T>
void conv_winograd_forward(const ConvShape& s, const T* x, const T* w, const T* bias, T* y,
                           void* ws, size_t ws_bytes);

// dx = conv_transpose(dy, w) when dx is not null (overwritten); dw += correlation of x with dy
// when dw is not null.
template <typename T>
void conv_winograd_backward(const ConvShape& s, const T* x, const T* w, const T* dy, T* dx, T* dw,
                            void* ws, size_t ws_bytes);

}  // namespace nsal::kernels::cpu

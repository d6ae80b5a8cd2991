// Convolution on the CPU: forward, backward-data, backward-filter and bias gradient for 2D (NCHW)
// and 3D (NCDHW) with stride, padding, dilation and groups, as im2col + BLAS GEMM. Two shapes
// take other paths, chosen here: depthwise convolutions direct loops (conv_direct.h), and 3x3
// (or 3x3x3) stride-1 padding-1 convolutions over a batch Winograd F(2x2, 3x3) (conv_winograd.h).
//
// Layouts: x (N, C, [D,] H, W), y (N, K, [OD,] OH, OW), w (K, C / groups, [kd,] kh, kw), bias (K,).
// Scratch comes from the caller: `ws` must hold conv_workspace_bytes(s, sizeof(T)) bytes computed
// with the same OpenMP thread count as the call (omp_get_max_threads()). Nothing is allocated.
//
// Threading: the batch is cut into chunks that the threads take in a fixed partition (a team of
// up to one thread per chunk), each doing its own im2col and GEMMs. Every GEMM runs on one thread
// (blas_gemm.h). Several samples share one GEMM (columns = samples x output positions) when the
// output is small, so each GEMM stays large. The chunks depend on the shape alone, never on the
// thread count. The filter gradient goes by tasks that the threads share out: a fixed number of
// runs of consecutive chunks (lanes, each summing into its own copy of the gradient, the copies
// then added in lane order) times blocks of channels.
//
// Results do not depend on the thread count or on timing: the path (Winograd or im2col) is chosen
// from the shape alone, and every element of y, dx, dw and db is the same sum in the same order
// on any number of threads (tests/test_conv_threads.cpp checks 1 to 5).
#pragma once

#include <cstddef>

#include "kernels/conv_shape.h"

namespace nsal::kernels::cpu {

// Winograd on or off for every later call (on by default); off, the 3x3 convolutions take
// im2col + GEMM like the rest. For comparisons and benchmarks: the two differ in the last bits.
void set_conv_winograd(bool enabled);
bool conv_winograd_enabled();
// Whether conv_forward/conv_backward take the Winograd path for `s` (on any thread count).
bool conv_uses_winograd(const ConvShape& s);

// Bytes of scratch every function below needs for `s` with elements of `elem_bytes` bytes, run on
// `threads` threads (0: omp_get_max_threads()).
size_t conv_workspace_bytes(const ConvShape& s, size_t elem_bytes, int threads = 0);

// y = conv(x, w) + bias. bias may be null.
template <typename T>
void conv_forward(const ConvShape& s, const T* x, const T* w, const T* bias, T* y, void* ws,
                  size_t ws_bytes);

// One pass over the batch for all gradients; any of dx, dw, db may be null (not wanted).
// dx is overwritten; dw (K, C / groups, [kd,] kh, kw) and db (K,) are ACCUMULATED (+=).
// x is needed only for dw, w only for dx.
template <typename T>
void conv_backward(const ConvShape& s, const T* x, const T* w, const T* dy, T* dx, T* dw, T* db,
                   void* ws, size_t ws_bytes);

// dx = conv_transpose(dy, w) (overwritten).
template <typename T>
void conv_backward_data(const ConvShape& s, const T* dy, const T* w, T* dx, void* ws,
                        size_t ws_bytes) {
  conv_backward<T>(s, nullptr, w, dy, dx, nullptr, nullptr, ws, ws_bytes);
}

// dw += correlation of x with dy.
template <typename T>
void conv_backward_filter(const ConvShape& s, const T* x, const T* dy, T* dw, void* ws,
                          size_t ws_bytes) {
  conv_backward<T>(s, x, nullptr, dy, nullptr, dw, nullptr, ws, ws_bytes);
}

// db[k] += sum over the batch and output positions of dy[:, k]. Needs no scratch.
template <typename T>
void conv_backward_bias(const ConvShape& s, const T* dy, T* db);

}  // namespace nsal::kernels::cpu

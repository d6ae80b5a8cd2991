// Softmax and log-softmax over dimension 1 of x (N, C, S), S the product of the trailing sizes
// (1 for (N, C)). Max-subtracted, sums in double.
#pragma once

#include <cstdint>

namespace nsal::kernels::cpu {

template <typename T>
void softmax_forward(const T* x, T* y, int64_t N, int64_t C, int64_t S, bool log);
// From the forward output y: softmax dx = y * (dy - sum_c dy * y); log-softmax
// dx = dy - exp(y) * sum_c dy.
template <typename T>
void softmax_backward(const T* y, const T* dy, T* dx, int64_t N, int64_t C, int64_t S, bool log);

// Log-sum-exp over dimension 1: lse (N, S), in double so that lse - x keeps its precision for
// large logits (the cross-entropy loss).
template <typename T>
void logsumexp_dim1(const T* x, double* lse, int64_t N, int64_t C, int64_t S);

}  // namespace nsal::kernels::cpu

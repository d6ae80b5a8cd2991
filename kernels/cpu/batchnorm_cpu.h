// BatchNorm on the CPU for x (N, C, S), S the product of the spatial sizes (1 for (N, C)).
// Statistics are reduced per channel in double, in a fixed order (deterministic for any thread
// count); each channel is handled by one thread, with its data still in cache between passes.
#pragma once

#include <cstdint>

namespace nsal::kernels::cpu {

// Training forward: batch mean and biased variance per channel (two-pass), then
// y = (x - mean) * invstd * gamma + beta. gamma and beta may be null (no affine parameters).
// Writes mean, invstd (saved for backward) and var (biased, for the running update) per channel.
template <typename T>
void batchnorm_forward_train(const T* x, int64_t N, int64_t C, int64_t S, const T* gamma,
                             const T* beta, double eps, T* y, double* mean, double* invstd,
                             double* var);

// Forward with given statistics (eval mode: the running ones). gamma and beta may be null.
template <typename T>
void batchnorm_forward_eval(const T* x, int64_t N, int64_t C, int64_t S, const T* gamma,
                            const T* beta, const T* running_mean, const T* running_var, double eps,
                            T* y);

// Training backward. Accumulates dgamma += sum(dy * xhat) and dbeta += sum(dy) when non-null;
// writes dx when non-null. gamma may be null (treated as 1).
template <typename T>
void batchnorm_backward_train(const T* x, const T* dy, int64_t N, int64_t C, int64_t S,
                              const double* mean, const double* invstd, const T* gamma, T* dx,
                              T* dgamma, T* dbeta);

// Eval-mode backward (fixed statistics): dx = dy * gamma * invstd; accumulates
// dgamma += sum(dy * (x - mean) * invstd) and dbeta += sum(dy) when non-null.
template <typename T>
void batchnorm_backward_eval(const T* x, const T* dy, int64_t N, int64_t C, int64_t S,
                             const T* gamma, const T* running_mean, const T* running_var,
                             double eps, T* dx, T* dgamma, T* dbeta);

}  // namespace nsal::kernels::cpu

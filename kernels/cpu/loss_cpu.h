// Loss kernels on the CPU. Reductions are split into fixed chunks whose partial sums (double)
// go to caller-provided scratch and are added in order: the result does not depend on the
// number of threads.
#pragma once

#include <cstdint>

namespace nsal::kernels::cpu {

// Number of partial sums a reduction over n elements writes (scratch size for the calls below).
int64_t reduction_chunks(int64_t n);

// Flat index of the first target that is neither in [0, C) nor ignore_index, or -1.
int64_t first_invalid_label(const int32_t* target, int64_t n, int64_t C, int32_t ignore_index);

// Cross entropy over logits x (N, C, S) and targets (N, S), given lse (N, S) from
// logsumexp_dim1. weight (C,) may be null. Sets loss_sum = sum w[t] * (lse - x[t]) and
// weight_sum = sum w[t] over positions whose target is not ignore_index.
// scratch: 2 * reduction_chunks(N * S) doubles.
template <typename T>
void cross_entropy_sums(const T* x, const int32_t* target, const double* lse, const T* weight,
                        int32_t ignore_index, int64_t N, int64_t C, int64_t S, double* scratch,
                        double& loss_sum, double& weight_sum);

// dx = (softmax(x) - onehot(t)) * w[t] * scale, zero at ignored positions.
template <typename T>
void cross_entropy_backward(const T* x, const int32_t* target, const double* lse, const T* weight,
                            int32_t ignore_index, int64_t N, int64_t C, int64_t S, double scale,
                            T* dx);

// sum (x - t)^2 and sum |x - t| over n elements; scratch: reduction_chunks(n) doubles.
template <typename T>
double squared_error_sum(const T* x, const T* t, int64_t n, double* scratch);
template <typename T>
double absolute_error_sum(const T* x, const T* t, int64_t n, double* scratch);

// dx = 2 (x - t) * scale and dx = sign(x - t) * scale (sign(0) = 0).
template <typename T>
void squared_error_backward(const T* x, const T* t, int64_t n, double scale, T* dx);
template <typename T>
void absolute_error_backward(const T* x, const T* t, int64_t n, double scale, T* dx);

}  // namespace nsal::kernels::cpu

// Backend entry points behind kernels/deviation.h (arguments already checked).
#pragma once

#include <cstdint>

namespace nsal::kernels {

int64_t accumulate_sq_deviation_cpu(const float* clean, const float* perturbed, int64_t n,
                                    int64_t c, int64_t p, const uint8_t* valid, bool softmax,
                                    float* score);
void finalize_mean_cpu(float* score, int64_t n, int64_t num_draws);
int64_t deviation_vectors_cpu(const float* clean, const float* perturbed, int64_t n, int64_t c,
                              bool softmax, int64_t draw, int64_t num_draws, float* out,
                              float* score);

int64_t accumulate_sq_deviation_cuda(const float* clean, const float* perturbed, int64_t n,
                                     int64_t c, int64_t p, const uint8_t* valid, bool softmax,
                                     float* score, void* stream, bool count_nonfinite);
void finalize_mean_cuda(float* score, int64_t n, int64_t num_draws, void* stream);
int64_t deviation_vectors_cuda(const float* clean, const float* perturbed, int64_t n, int64_t c,
                               bool softmax, int64_t draw, int64_t num_draws, float* out,
                               float* score, void* stream, bool count_nonfinite);

}  // namespace nsal::kernels

// Output deviations for noise-stability scores (DESIGN section 3): how far the perturbed model's
// outputs move from the clean model's, per sample. CPU and CUDA behind one host API; pointers
// live on the CPU or on the current CUDA device (on_cuda).
//
// Outputs are (N, C, P): N samples, C channels (classes, regression outputs or features), P
// pixels (P = 1 for classification and regression; segmentation maps flattened to P = H W).
// With `softmax`, both inputs are logits and are turned into probabilities over C (per pixel)
// first; otherwise they are compared as they are. The arithmetic is double precision.
//
// Non-finite outputs are never scored silently: a sample with a NaN or infinity in a valid
// pixel of either input gets score NaN (which top_n never selects), and the functions return
// how many samples that happened to in this call.
#pragma once

#include <cstdint>

namespace nsal::kernels {

// score[n] += (1 / V_n) sum over valid pixels p of sum_c (g(perturbed) - g(clean))^2, V_n the
// number of valid pixels of sample n (all P when valid is null; a sample with none adds 0).
// clean, perturbed: (N, C, P). valid: (N, P), nonzero = valid, or nullptr. score: (N,).
// Returns the number of samples with non-finite values (their score becomes NaN). With
// count_nonfinite off it returns 0 and the GPU path neither allocates nor waits for the device
// (a scoring pass counts the NaN scores once at the end instead).
int64_t accumulate_sq_deviation(const float* clean, const float* perturbed, int64_t n, int64_t c,
                                int64_t p, const uint8_t* valid, bool softmax, float* score,
                                bool on_cuda = false, void* stream = nullptr,
                                bool count_nonfinite = true);

// score[n] /= num_draws: the mean over the K draws (NaN stays NaN).
void finalize_mean(float* score, int64_t n, int64_t num_draws, bool on_cuda = false,
                   void* stream = nullptr);

// The `released` deviation vectors: out (N, C * K) row-major; draw k writes columns
// [k C, (k + 1) C) of every row with (g(perturbed) - g(clean)) / ||g(clean)||.
// clean, perturbed: (N, C). A row with a non-finite input or a zero clean norm is written as
// NaN and counted; returns the count (0 with count_nonfinite off, as above).
// score: (N,) or nullptr. When given, the same pass (one read of both outputs) also does what
// accumulate_sq_deviation does for P = 1 with no mask, with the same bits: score[n] += the
// squared deviation, NaN for a row with a non-finite input.
int64_t deviation_vectors(const float* clean, const float* perturbed, int64_t n, int64_t c,
                          bool softmax, int64_t draw, int64_t num_draws, float* out, float* score,
                          bool on_cuda = false, void* stream = nullptr,
                          bool count_nonfinite = true);

}  // namespace nsal::kernels

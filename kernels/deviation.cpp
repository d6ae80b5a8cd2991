#include "kernels/deviation.h"

#include "kernels/deviation_backend.h"
#include "kernels/error.h"

namespace nsal::kernels {

static void check_common(const char* fn, const float* clean, const float* perturbed, int64_t n,
                         int64_t c, int64_t p, const void* out) {
  NSAL_CHECK_AS(ShapeError, n >= 0 && c >= 1 && p >= 1,
                "{}: bad output shape (N, C, P) = ({}, {}, {})", fn, n, c, p);
  NSAL_CHECK(n == 0 || (clean && perturbed && out), "{}: null pointer for {} samples", fn, n);
}

int64_t accumulate_sq_deviation(const float* clean, const float* perturbed, int64_t n, int64_t c,
                                int64_t p, const uint8_t* valid, bool softmax, float* score,
                                bool on_cuda, void* stream, bool count_nonfinite) {
  check_common("accumulate_sq_deviation", clean, perturbed, n, c, p, score);
  if (n == 0) return 0;
  if (on_cuda)
    return accumulate_sq_deviation_cuda(clean, perturbed, n, c, p, valid, softmax, score, stream,
                                        count_nonfinite);
  const int64_t bad = accumulate_sq_deviation_cpu(clean, perturbed, n, c, p, valid, softmax, score);
  return count_nonfinite ? bad : 0;
}

void finalize_mean(float* score, int64_t n, int64_t num_draws, bool on_cuda, void* stream) {
  NSAL_CHECK(num_draws >= 1, "finalize_mean: {} draws", num_draws);
  NSAL_CHECK(n >= 0 && (n == 0 || score), "finalize_mean: bad score buffer (n = {})", n);
  if (n == 0) return;
  if (on_cuda)
    finalize_mean_cuda(score, n, num_draws, stream);
  else
    finalize_mean_cpu(score, n, num_draws);
}

int64_t deviation_vectors(const float* clean, const float* perturbed, int64_t n, int64_t c,
                          bool softmax, int64_t draw, int64_t num_draws, float* out, float* score,
                          bool on_cuda, void* stream, bool count_nonfinite) {
  check_common("deviation_vectors", clean, perturbed, n, c, 1, out);
  NSAL_CHECK(num_draws >= 1 && draw >= 0 && draw < num_draws,
             "deviation_vectors: draw {} outside [0, {})", draw, num_draws);
  if (n == 0) return 0;
  if (on_cuda)
    return deviation_vectors_cuda(clean, perturbed, n, c, softmax, draw, num_draws, out, score,
                                  stream, count_nonfinite);
  const int64_t bad =
      deviation_vectors_cpu(clean, perturbed, n, c, softmax, draw, num_draws, out, score);
  return count_nonfinite ? bad : 0;
}

#ifndef NSAL_WITH_CUDA
int64_t accumulate_sq_deviation_cuda(const float*, const float*, int64_t, int64_t, int64_t,
                                     const uint8_t*, bool, float*, void*, bool) {
  throw Error("accumulate_sq_deviation on CUDA: nsal was built without the CUDA backend");
}
void finalize_mean_cuda(float*, int64_t, int64_t, void*) {
  throw Error("finalize_mean on CUDA: nsal was built without the CUDA backend");
}
int64_t deviation_vectors_cuda(const float*, const float*, int64_t, int64_t, bool, int64_t, int64_t,
                               float*, float*, void*, bool) {
  throw Error("deviation_vectors on CUDA: nsal was built without the CUDA backend");
}
#endif

}  // namespace nsal::kernels

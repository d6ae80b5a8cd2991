#include "kernels/optim.h"

#include "kernels/error.h"

namespace nsal::kernels {

#ifndef NSAL_WITH_CUDA
namespace cuda {
static void no_cuda() {
  throw Error("optimizer step on a CUDA arena: nsal was built without CUDA");
}
void sgd_step(float*, const float*, float*, int64_t, const SgdParams&) {
  no_cuda();
}
void adam_step(float*, const float*, float*, float*, int64_t, const AdamParams&) {
  no_cuda();
}
double sum_squares(const float*, int64_t) {
  no_cuda();
  return 0;
}
void scale_inplace(float*, int64_t, float) {
  no_cuda();
}
}  // namespace cuda
#endif

void sgd_step(float* w, const float* g, float* buf, int64_t n, const SgdParams& p, bool on_cuda) {
  on_cuda ? cuda::sgd_step(w, g, buf, n, p) : cpu::sgd_step(w, g, buf, n, p);
}

void adam_step(float* w, const float* g, float* m, float* v, int64_t n, const AdamParams& p,
               bool on_cuda) {
  on_cuda ? cuda::adam_step(w, g, m, v, n, p) : cpu::adam_step(w, g, m, v, n, p);
}

double sum_squares(const float* x, int64_t n, bool on_cuda) {
  return on_cuda ? cuda::sum_squares(x, n) : cpu::sum_squares(x, n);
}

void scale_inplace(float* x, int64_t n, float s, bool on_cuda) {
  on_cuda ? cuda::scale_inplace(x, n, s) : cpu::scale_inplace(x, n, s);
}

}  // namespace nsal::kernels

#include "kernels/bn_fold.h"

#include "kernels/error.h"

namespace nsal::kernels::cpu {

void bn_fold(int64_t c_out, int64_t per_channel, const float* w, const float* conv_bias,
             const float* gamma, const float* beta, const float* mean, const float* var, double eps,
             float* w_out, float* b_out) {
  NSAL_CHECK_AS(ShapeError, c_out > 0 && per_channel > 0,
                "bn_fold: C_out ({}) and weights per channel ({}) must be positive", c_out,
                per_channel);
  NSAL_CHECK(eps > 0, "bn_fold: eps must be positive, got {}", eps);
  NSAL_CHECK(w && gamma && beta && mean && var && w_out && b_out,
             "bn_fold: a required pointer is null");
  // Channels are independent: one thread per block of channels (no reduction, same bits).
#pragma omp parallel for schedule(static) if (c_out * per_channel >= (int64_t{1} << 16))
  for (int64_t o = 0; o < c_out; ++o)
    bn_fold_apply(o, per_channel, w, conv_bias, gamma, beta, mean, var, eps, w_out, b_out);
}

}  // namespace nsal::kernels::cpu

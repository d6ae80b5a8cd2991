// Optimizer updates over the whole parameter arena: one flat pass, the per-element rule written
// once (NSAL_HD) for the CPU loop and the CUDA kernel. Formulas follow PyTorch's torch.optim.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/hd.h"

namespace nsal::kernels {

struct SgdParams {
  float lr = 0.1f;
  float momentum = 0.0f;
  float dampening = 0.0f;
  float weight_decay = 0.0f;
  bool nesterov = false;
  bool first_step = true;  // PyTorch initialises the momentum buffer with the first gradient
};

struct AdamParams {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;
  bool decoupled = false;  // AdamW: decay the weight directly instead of adding it to the gradient
  int64_t step = 1;        // 1-based step for the bias corrections
};

// An optimizer's step counter and learning rate in device memory, for the GPU steps
// (kernels/cuda_ops.h): each step reads them there and advances the counter itself, so that a
// step captured in a CUDA graph does on every replay what the next eager step would do (SGD's
// first step, Adam's bias corrections, a learning rate set between replays).
struct OptimDeviceState {
  int64_t* step = nullptr;  // steps taken so far
  const float* lr = nullptr;
};

// w, g, buf: one element each. PyTorch SGD: g += wd*w; buf = mu*buf + (1-damp)*g (buf = g at the
// first step); g = nesterov ? g + mu*buf : buf; w -= lr*g.
NSAL_HD void sgd_update(float& w, float g, float& buf, const SgdParams& p) {
  if (p.weight_decay != 0.0f) g += p.weight_decay * w;
  if (p.momentum != 0.0f) {
    buf = p.first_step ? g : p.momentum * buf + (1.0f - p.dampening) * g;
    g = p.nesterov ? g + p.momentum * buf : buf;
  }
  w -= p.lr * g;
}

// Adam's bias corrections for a 1-based step: c1 = 1 - beta1^step and c2 = sqrt(1 - beta2^step),
// in double from the float betas (beta^step by repeated squaring, multiplications that no
// compiler contracts), each rounded to float once. The GPU step computes them so from the step
// count in device memory (a CUDA graph replay). The CPU loop keeps its float formula
// (kernels/cpu/optim_cpu.cpp), whose 1 - beta2^step cancels in float at small steps: its c2 is
// up to about 3e-6 relative (tens of float ulps) from this one there, and closer later.
NSAL_HD double pow_by_squaring(double base, int64_t exponent) {
  double result = 1.0;
  while (exponent > 0) {
    if (exponent & 1) result *= base;
    base *= base;
    exponent >>= 1;
  }
  return result;
}
NSAL_HD void adam_bias_corrections(float beta1, float beta2, int64_t step, float& c1,
                                   float& c2_sqrt) {
  c1 = static_cast<float>(1.0 - pow_by_squaring(beta1, step));
  c2_sqrt = static_cast<float>(sqrt(1.0 - pow_by_squaring(beta2, step)));
}

// PyTorch Adam/AdamW (amsgrad off), bias corrections from the step count.
NSAL_HD void adam_update(float& w, float g, float& m, float& v, const AdamParams& p, float bias_c1,
                         float bias_c2_sqrt) {
  if (p.decoupled)
    w *= 1.0f - p.lr * p.weight_decay;
  else if (p.weight_decay != 0.0f)
    g += p.weight_decay * w;
  m = p.beta1 * m + (1.0f - p.beta1) * g;
  v = p.beta2 * v + (1.0f - p.beta2) * g * g;
  float denom = std::sqrt(v) / bias_c2_sqrt + p.eps;
  w -= (p.lr / bias_c1) * m / denom;
}

// Whole-arena updates on the CPU (the GPU ones are in kernels/cuda_ops.h, on a context's stream).
namespace cpu {
void sgd_step(float* w, const float* g, float* buf, int64_t n, const SgdParams& p);
void adam_step(float* w, const float* g, float* m, float* v, int64_t n, const AdamParams& p);
double sum_squares(const float* x, int64_t n);
void scale_inplace(float* x, int64_t n, float s);
}  // namespace cpu

}  // namespace nsal::kernels

#include "nn/optim/optimizer.h"

#include <cmath>

#include "kernels/cuda_ops.h"
#include "kernels/memory.h"

namespace nsal {

Optimizer::Optimizer(ParamArena& arena) : arena_(arena) {
  NSAL_CHECK(arena.allocated(), "optimizer: the model's parameter arena is not allocated");
  NSAL_CHECK(arena.dtype() == DType::f32, "optimizer: float32 parameters expected, got {}",
             dtype_name(arena.dtype()));
  if (arena.device().is_cuda()) {
    gpu_step_ = Tensor::zeros({8}, DType::u8, arena.device());
    gpu_lr_ = Tensor::zeros({1}, DType::f32, arena.device());
  }
}

int64_t Optimizer::steps_taken() const {
  if (!arena_.device().is_cuda()) return steps_;
  int64_t s = 0;
  kernels::copy_bytes(&s, false, gpu_step_.raw(), true, sizeof(s));  // waits for queued steps
  return s;
}

void Optimizer::set_steps_taken(int64_t s) {
  steps_ = s;
  if (arena_.device().is_cuda()) kernels::copy_bytes(gpu_step_.raw(), true, &s, false, sizeof(s));
}

void Optimizer::write_device_lr(float lr) {
  if (arena_.device().is_cuda()) kernels::copy_bytes(gpu_lr_.raw(), true, &lr, false, sizeof(lr));
}

kernels::OptimDeviceState Optimizer::device_state() {
  kernels::OptimDeviceState s;
  s.step = static_cast<int64_t*>(gpu_step_.raw());
  s.lr = gpu_lr_.data<float>();
  return s;
}

float* Optimizer::params() {
  return arena_.params().data<float>();
}
const float* Optimizer::grads() {
  return arena_.grads().data<float>();
}

void Optimizer::zero_grad(Context& ctx) {
  if (arena_.device().is_cuda())  // on the stream, ordered with the step's kernels
    kernels::gpu::fill(ctx.gpu(), arena_.grads().data<float>(), arena_.arena_size(), 0.f);
  else
    arena_.zero_grad();
}

void Optimizer::clip_grad_norm(Context& ctx, double max_norm) {
  NSAL_CHECK(max_norm > 0, "clip_grad_norm: max_norm must be positive, got {}", max_norm);
  float* g = arena_.grads().data<float>();
  const int64_t n = arena_.arena_size();
  if (arena_.device().is_cuda()) {
    const kernels::GpuExec ex = ctx.gpu();
    if (gpu_sumsq_.empty()) gpu_sumsq_ = Tensor({1}, DType::f64, arena_.device(), "gradient norm");
    kernels::gpu::sum_squares(ex, g, n, gpu_sumsq_.data<double>());
    kernels::gpu::clip_scale(ex, g, n, gpu_sumsq_.data<double>(), max_norm);
    return;
  }
  cpu_norm_ = std::sqrt(kernels::cpu::sum_squares(g, n));
  const double coef = max_norm / (cpu_norm_ + 1e-6);
  if (coef < 1.0) kernels::cpu::scale_inplace(g, n, static_cast<float>(coef));
}

double Optimizer::last_grad_norm() const {
  if (arena_.device().is_cuda())
    return gpu_sumsq_.empty() ? 0.0 : std::sqrt(gpu_sumsq_.to_vector()[0]);
  return cpu_norm_;
}

Tensor Optimizer::make_state_buffer() {
  return Tensor::zeros({arena_.arena_size()}, DType::f32, arena_.device());
}

Sgd::Sgd(ParamArena& arena, SgdOptions opt) : Optimizer(arena), opt_(opt) {
  NSAL_CHECK(opt.lr >= 0 && opt.momentum >= 0 && opt.weight_decay >= 0,
             "sgd: lr, momentum and weight_decay must be non-negative");
  NSAL_CHECK(!opt.nesterov || (opt.momentum > 0 && opt.dampening == 0),
             "sgd: nesterov needs momentum > 0 and zero dampening (as in PyTorch)");
  if (opt.momentum != 0) momentum_ = make_state_buffer();
  write_device_lr(opt.lr);
}

void Sgd::step(Context& ctx) {
  kernels::SgdParams p;
  p.lr = opt_.lr;
  p.momentum = opt_.momentum;
  p.dampening = opt_.dampening;
  p.weight_decay = opt_.weight_decay;
  p.nesterov = opt_.nesterov;
  p.first_step = steps_ == 0;
  float* buf = momentum_.empty() ? nullptr : momentum_.data<float>();
  if (arena_.device().is_cuda())
    kernels::gpu::sgd_step(ctx.gpu(), params(), grads(), buf, arena_.arena_size(), p,
                           device_state());
  else
    kernels::cpu::sgd_step(params(), grads(), buf, arena_.arena_size(), p);
  ++steps_;
}

std::vector<std::pair<std::string, Tensor*>> Sgd::state() {
  if (momentum_.empty()) return {};
  return {{"momentum_buffer", &momentum_}};
}

Adam::Adam(ParamArena& arena, AdamOptions opt) : Optimizer(arena), opt_(opt) {
  NSAL_CHECK(opt.lr >= 0 && opt.eps > 0 && opt.weight_decay >= 0,
             "adam: lr and weight_decay must be non-negative and eps positive");
  NSAL_CHECK(opt.beta1 >= 0 && opt.beta1 < 1 && opt.beta2 >= 0 && opt.beta2 < 1,
             "adam: betas must lie in [0, 1), got ({}, {})", opt.beta1, opt.beta2);
  exp_avg_ = make_state_buffer();
  exp_avg_sq_ = make_state_buffer();
  write_device_lr(opt.lr);
}

void Adam::step(Context& ctx) {
  kernels::AdamParams p;
  p.lr = opt_.lr;
  p.beta1 = opt_.beta1;
  p.beta2 = opt_.beta2;
  p.eps = opt_.eps;
  p.weight_decay = opt_.weight_decay;
  p.decoupled = opt_.decoupled;
  p.step = steps_ + 1;
  if (arena_.device().is_cuda())
    kernels::gpu::adam_step(ctx.gpu(), params(), grads(), exp_avg_.data<float>(),
                            exp_avg_sq_.data<float>(), arena_.arena_size(), p, device_state());
  else
    kernels::cpu::adam_step(params(), grads(), exp_avg_.data<float>(), exp_avg_sq_.data<float>(),
                            arena_.arena_size(), p);
  ++steps_;
}

std::vector<std::pair<std::string, Tensor*>> Adam::state() {
  return {{"exp_avg", &exp_avg_}, {"exp_avg_sq", &exp_avg_sq_}};
}

}  // namespace nsal

#include "nn/layers/dropout.h"

#include "kernels/cpu/dropout_cpu.h"
#include "kernels/cuda_ops.h"
#include "kernels/dropout.h"
#include "kernels/memory.h"
#include "nn/layers/float_dispatch.h"

namespace nsal {

Dropout::Dropout(std::string name, double p, uint64_t seed)
    : Layer("dropout", std::move(name)), p_(p), seed_(seed) {
  if (!(p >= 0.0 && p <= 1.0)) fail("probability p must lie in [0, 1], got " + std::to_string(p));
}

void Dropout::set_mc_pass(int64_t pass) {
  if (pass < 0 || static_cast<uint64_t>(pass) >= kernels::kMcDropoutMaxPasses)
    fail("MC-dropout pass must lie in [0, 2^23), got " + std::to_string(pass));
  mc_pass_ = pass;
}

void Dropout::set_mc_first_position(int64_t position) {
  if (position < 0 || static_cast<uint64_t>(position) >= kernels::kMcDropoutMaxPositions)
    fail("MC-dropout sample position must lie in [0, 2^40), got " + std::to_string(position));
  mc_first_ = position;
  pending_rows_ = -1;
}

std::vector<int32_t> Dropout::checked_row_keys(const int64_t* keys, int64_t rows,
                                               const std::string& who) {
  std::vector<int32_t> out(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    if (keys[r] < 0 || keys[r] > INT32_MAX)
      throw Error(who + ": MC-dropout row key (a dataset index) must lie in [0, 2^31), got " +
                  std::to_string(keys[r]));
    out[static_cast<size_t>(r)] = static_cast<int32_t>(keys[r]);
  }
  return out;
}

void Dropout::set_mc_row_keys(const int64_t* keys, int64_t rows) {
  own_keys_ = checked_row_keys(keys, rows, layer_label(type(), name()));
  use_mc_row_keys(own_keys_.data(), nullptr, rows);
}

void Dropout::use_mc_row_keys(const int32_t* host, const int32_t* device, int64_t rows) {
  pending_host_ = host;
  pending_device_ = device;
  pending_rows_ = rows;
}

// Drops with scale 1 / (1 - p); p = 1 zeroes everything (scale unused).
template <typename T>
static void apply_mask(const T* src, T* dst, int64_t n, uint64_t seed, uint64_t step, int64_t rows,
                       const int32_t* keys, double p) {
  const T scale = p < 1.0 ? static_cast<T>(1.0 / (1.0 - p)) : T(0);
  kernels::cpu::dropout_apply(src, dst, n, seed, step, kernels::dropout_threshold(p), scale, rows,
                              keys);
}

uint64_t Dropout::step() const {
  if (gpu_steps_.empty()) return step_;
  uint64_t s = 0;
  // A synchronous copy on the legacy stream: it waits for the advances queued on the context's
  // stream because that stream is a blocking one (kernels/cuda/gpu_handles.cpp).
  kernels::copy_bytes(&s, false, gpu_steps_.raw(), true, sizeof(s));
  return s;
}

void Dropout::set_step(uint64_t step) {
  step_ = step;
  if (!gpu_steps_.empty()) kernels::copy_bytes(gpu_steps_.raw(), true, &step, false, sizeof(step));
}

uint64_t* Dropout::gpu_steps(Device device) {
  if (!gpu_steps_.empty() && gpu_steps_.device() != device) {  // another GPU: the count moves
    step_ = step();
    gpu_steps_ = Tensor();
  }
  if (gpu_steps_.empty()) {
    gpu_steps_ = Tensor({2 * static_cast<int64_t>(sizeof(uint64_t))}, DType::u8, device,
                        "dropout step counter");
    const uint64_t init[2] = {step_, step_};
    kernels::copy_bytes(gpu_steps_.raw(), true, init, false, sizeof(init));
  }
  return static_cast<uint64_t*>(gpu_steps_.raw());
}

// Chooses the mask of this forward: in training mode the next step (advanced); in MC dropout at
// inference one row per sample at the samples' own steps. Returns whether anything is dropped.
bool Dropout::choose_mask(const Tensor& x) {
  masked_ = active() && p_ != 0.0;
  mask_keys_ = nullptr;
  const int64_t key_rows = pending_rows_;  // keys serve this forward only
  pending_rows_ = -1;
  if (!active()) return false;
  if (training()) {
    mask_step_ = step_++;
    mask_rows_ = 1;
    return masked_;
  }
  const int64_t rows = x.ndim() > 0 ? x.dim(0) : 1;
  mask_rows_ = rows > 0 ? rows : 1;
  if (key_rows >= 0) {  // one key per row: the samples' dataset indices
    if (key_rows != rows)
      fail("MC dropout: " + std::to_string(key_rows) + " row keys set for a batch of " +
           std::to_string(rows) + " rows");
    mask_step_ = kernels::mc_dropout_step(static_cast<uint64_t>(mc_pass_), 0);
    if (!x.device().is_cuda()) {
      mask_keys_ = pending_host_;
    } else if (pending_device_) {
      mask_keys_ = pending_device_;
    } else {  // keys given on the host only: uploaded here (the stream blocks, so it is ordered)
      own_keys_device_.resize({rows}, DType::i32, x.device(), "MC-dropout row keys");
      kernels::copy_bytes(own_keys_device_.raw(), true, pending_host_, false,
                          static_cast<size_t>(rows) * sizeof(int32_t));
      mask_keys_ = own_keys_device_.data<int32_t>();
    }
    return masked_;
  }
  if (static_cast<uint64_t>(mc_first_ + rows) > kernels::kMcDropoutMaxPositions)
    fail("MC-dropout sample positions must stay below 2^40, got " +
         std::to_string(mc_first_ + rows));
  mask_step_ =
      kernels::mc_dropout_step(static_cast<uint64_t>(mc_pass_), static_cast<uint64_t>(mc_first_));
  return masked_;
}

void Dropout::forward_impl(Context& ctx, const Tensor& x, Tensor& y) {
  // A masking GPU training forward takes its step from the device copy (made before the host
  // count advances, so both start at the same step).
  counted_ = use_gpu(x) && training() && p_ != 0.0;
  uint64_t* steps = counted_ ? gpu_steps(x.device()) : nullptr;
  if (!use_gpu(x) && !gpu_steps_.empty()) {  // back on the CPU: the device count is the truth
    step_ = step();
    gpu_steps_ = Tensor();
  }
  const bool drop = choose_mask(x);
  if (use_gpu(x)) {  // the same mask as the CPU: kernels/dropout.h
    const kernels::GpuExec ex = ctx.gpu();
    if (!drop)
      kernels::gpu::copy(ex, y.raw(), x.raw(), x.nbytes());
    else if (counted_)
      kernels::gpu::dropout_forward_counted(ex, x.numel(), p_, seed_, steps, x.data<float>(),
                                            y.data<float>());
    else
      kernels::gpu::dropout_forward(ex, x.numel(), p_, seed_, mask_step_, x.data<float>(),
                                    y.data<float>(), mask_rows_, mask_keys_);
    return;
  }
  dispatch_cpu_float(layer_label(type(), name()), x, [&](auto tag) {
    using T = decltype(tag);
    if (!drop)
      y.copy_from(x);
    else
      apply_mask(x.data<T>(), y.data<T>(), x.numel(), seed_, mask_step_, mask_rows_, mask_keys_,
                 p_);
  });
}

void Dropout::backward_impl(Context& ctx, const Tensor& x, const Tensor&, const Tensor& dy,
                            Tensor* dx) {
  if (!dx) return;
  if (use_gpu(x)) {
    const kernels::GpuExec ex = ctx.gpu();
    if (!masked_)
      kernels::gpu::copy(ex, dx->raw(), dy.raw(), dy.nbytes());
    else if (counted_)
      kernels::gpu::dropout_backward_counted(ex, dy.numel(), p_, seed_,
                                             static_cast<const uint64_t*>(gpu_steps_.raw()),
                                             dy.data<float>(), dx->data<float>());
    else
      kernels::gpu::dropout_backward(ex, dy.numel(), p_, seed_, mask_step_, dy.data<float>(),
                                     dx->data<float>(), mask_rows_, mask_keys_);
    return;
  }
  dispatch_cpu_float(layer_label(type(), name()), x, [&](auto tag) {
    using T = decltype(tag);
    if (!masked_)  // the forward was the identity (eval mode or p = 0)
      dx->copy_from(dy);
    else
      apply_mask(dy.data<T>(), dx->data<T>(), dy.numel(), seed_, mask_step_, mask_rows_, mask_keys_,
                 p_);
  });
}

}  // namespace nsal

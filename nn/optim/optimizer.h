// Optimizers over the parameter arena: each step is one flat kernel over all parameters
// (kernels/optim.h). State buffers have the arena's layout, so checkpoints store them flat. On a
// GPU, zero_grad, clipping and the step run on the context's stream and neither allocate (after
// the first clipping) nor wait for the device, and the step count and learning rate live in
// device memory (the step advances the count there), so a whole training step can be captured
// in a CUDA graph and each replay is the next step: SGD's first step, Adam's bias corrections and
// a learning rate set between replays come out as in eager steps. set_lr and set_steps_taken
// write the device copy (a synchronous copy: not inside a capture); steps_taken reads it.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "kernels/optim.h"
#include "nn/context.h"
#include "nn/param_arena.h"

namespace nsal {

class Optimizer {
 public:
  explicit Optimizer(ParamArena& arena);
  virtual ~Optimizer() = default;

  virtual void step(Context& ctx) = 0;
  void zero_grad(Context& ctx);
  // PyTorch's clip_grad_norm_: scales all gradients so that their global L2 norm is at most
  // max_norm. On a GPU the norm and the factor stay on the device; last_grad_norm() reads the
  // norm before the last clipping (a host read there).
  void clip_grad_norm(Context& ctx, double max_norm);
  double last_grad_norm() const;
  virtual float lr() const = 0;
  virtual void set_lr(float lr) = 0;
  int64_t steps_taken() const;
  void set_steps_taken(int64_t s);

  // Named state tensors (arena layout) for checkpoints: ("momentum_buffer", ...).
  virtual std::vector<std::pair<std::string, Tensor*>> state() = 0;
  virtual std::string kind() const = 0;

 protected:
  float* params();
  const float* grads();
  Tensor make_state_buffer();
  // On a GPU: the learning rate's device copy, written by the subclasses' constructors and
  // set_lr; the device state the GPU steps take.
  void write_device_lr(float lr);
  kernels::OptimDeviceState device_state();

  ParamArena& arena_;
  int64_t steps_ = 0;  // the CPU's count (on a GPU the device copy counts)

 private:
  double cpu_norm_ = 0;  // the CPU's last norm
  Tensor gpu_sumsq_;     // (1,) float64 on the GPU: the last clipping's sum of squares
  Tensor gpu_step_;      // (8,) bytes on the GPU: steps taken, an int64
  Tensor gpu_lr_;        // (1,) float32 on the GPU: the learning rate
};

struct SgdOptions {
  float lr = 0.1f;
  float momentum = 0.9f;
  float dampening = 0.0f;
  float weight_decay = 5e-4f;
  bool nesterov = false;
};

class Sgd : public Optimizer {
 public:
  Sgd(ParamArena& arena, SgdOptions opt);
  void step(Context& ctx) override;
  float lr() const override { return opt_.lr; }
  void set_lr(float lr) override {
    opt_.lr = lr;
    write_device_lr(lr);
  }
  std::vector<std::pair<std::string, Tensor*>> state() override;
  std::string kind() const override { return "sgd"; }

 private:
  SgdOptions opt_;
  Tensor momentum_;  // (arena_size,), empty without momentum
};

struct AdamOptions {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;
  bool decoupled = false;  // true: AdamW
};

class Adam : public Optimizer {
 public:
  Adam(ParamArena& arena, AdamOptions opt);
  void step(Context& ctx) override;
  float lr() const override { return opt_.lr; }
  void set_lr(float lr) override {
    opt_.lr = lr;
    write_device_lr(lr);
  }
  std::vector<std::pair<std::string, Tensor*>> state() override;
  std::string kind() const override { return opt_.decoupled ? "adamw" : "adam"; }

 private:
  AdamOptions opt_;
  Tensor exp_avg_, exp_avg_sq_;  // (arena_size,)
};

}  // namespace nsal

#include "nn/layer.h"

#include "nn/layers/float_dispatch.h"
#include "nn/memory_plan.h"

namespace nsal {

void Layer::fail(const std::string& what) const {
  throw ShapeError(type_ + " '" + name_ + "': " + what);
}

void Layer::check_param(const Tensor& x, const Tensor& p, const char* pname) const {
  if (p.raw() == nullptr && p.numel() > 0)
    fail(std::string("parameter '") + pname + "' is not allocated (build the model's arena first)");
  if (p.dtype() != x.dtype() || p.device() != x.device())
    fail(std::string("input is ") + x.describe() + " but parameter '" + pname + "' is " +
         p.describe());
}

bool Layer::use_gpu(const Tensor& x) const {
  return on_gpu(x, [this] { return layer_label(type_, name_); });
}

const Tensor& Layer::forward(Context& ctx, const Tensor& x) {
  if (x.device() != ctx.device())
    fail("input is on " + x.device().str() + " but the context runs on " + ctx.device().str());
  if (x.dtype() != DType::f32 && x.dtype() != DType::f64)
    fail(std::string("expected a float32 or float64 input, got ") + dtype_name(x.dtype()));
  if (!x.is_contiguous()) fail("input " + x.describe() + " is not contiguous");
  Shape out_shape = output_shape(x.shape());
  // A slice of a training plan's arena stays until the backward that reads it; an inference
  // plan's may be overwritten by any later op.
  inference_output_ =
      plan_output(ctx, {&x}, out_, out_shape, x.dtype(), x.device(), "layer output") &&
      !ctx.memory_plan()->backward_follows();
  forward_impl(ctx, x, out_);
  saved_input_ = &x;
  return out_;
}

const Tensor& Layer::backward(Context& ctx, const Tensor& dy) {
  if (saved_input_ == nullptr) fail("backward() without a forward() before it");
  if (inference_output_)
    fail(
        "backward() after an inference forward (Model::infer), whose outputs share memory; "
        "run forward() for a step that needs gradients");
  const Tensor& x = *saved_input_;
  if (dy.shape() != out_.shape() || dy.dtype() != out_.dtype() || dy.device() != out_.device())
    fail("output gradient is " + dy.describe() + " but the output was " + out_.describe());
  MemoryPlan* plan = ctx.memory_plan();
  if (plan && plan->state() == MemoryPlan::State::recording) {
    const BackwardReads reads = backward_reads(use_gpu(x));
    if (reads.input) plan->read(x.raw());
    if (reads.output) plan->read(out_.raw());
  }
  Tensor* dx = nullptr;
  if (needs_input_grad_) {
    plan_output(ctx, {&dy}, dx_, x.shape(), x.dtype(), x.device(), "input gradient");
    dx = &dx_;
  } else if (plan) {
    plan->read(dy.raw());  // the parameter gradients still read dy
  }
  backward_impl(ctx, x, out_, dy, dx);
  saved_input_ = nullptr;
  return dx_;
}

}  // namespace nsal

#include "nn/model.h"

#include <algorithm>

#include "kernels/dropout.h"
#include "kernels/memory.h"
#include "nn/init.h"
#include "nn/layers/dropout.h"
#include "nn/memory_plan.h"

namespace nsal {

const Tensor& Sequential::forward(Context& ctx, const Tensor& x) {
  NSAL_CHECK(!layers_.empty(), "Sequential::forward on an empty chain");
  passed_over_.assign(layers_.size(), 0);
  const Tensor* cur = &x;
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (layers_[i]->is_identity()) {
      passed_over_[i] = 1;
      continue;
    }
    cur = &layers_[i]->forward(ctx, *cur);
  }
  out_ = cur;
  return *cur;
}

const Tensor& Sequential::backward(Context& ctx, const Tensor& dy) {
  NSAL_CHECK(!layers_.empty(), "Sequential::backward on an empty chain");
  NSAL_CHECK(passed_over_.size() == layers_.size(), "Sequential::backward before forward");
  const Tensor* cur = &dy;
  for (size_t i = layers_.size(); i-- > 0;)
    if (!passed_over_[i]) cur = &layers_[i]->backward(ctx, *cur);
  return *cur;
}

const Tensor& Sequential::output() const {
  NSAL_CHECK(out_ != nullptr, "Sequential::output before forward");
  return *out_;
}

ModelSpec Model::spec() const {
  ModelSpec s;
  s.arch = arch_;
  s.in_channels = input_shape().at(0);
  s.classes = num_outputs();
  return s;
}

void Model::build(Device device, uint64_t seed, DType dtype) {
  NSAL_CHECK(!built(), "model '{}' built twice", arch_);
  for (auto& l : layers_)
    l->declare(arena_);
  arena_.allocate(dtype, device);
  init_pytorch_default(arena_, seed);
  uint64_t index = 0;  // each dropout layer its own mask stream (kernels/dropout.h)
  for (auto& l : layers_)
    if (auto* d = dynamic_cast<Dropout*>(l.get()))
      d->set_seed(kernels::dropout_layer_seed(seed, index++));
}

void Model::set_training(bool on) {
  training_ = on;
  for (auto& l : layers_)
    l->set_training(on);
}

void Model::set_mc_dropout(bool on) {
  mc_dropout_ = on;
  for (auto& l : layers_)
    if (auto* d = dynamic_cast<Dropout*>(l.get())) {
      d->set_mc(on);
      d->set_mc_pass(0);
      d->set_mc_first_position(0);
    }
}

void Model::set_mc_pass(int64_t pass) {
  for (auto& l : layers_)
    if (auto* d = dynamic_cast<Dropout*>(l.get())) d->set_mc_pass(pass);
}

void Model::set_mc_row_keys(const int64_t* keys, int64_t rows) {
  mc_keys_ = Dropout::checked_row_keys(keys, rows, "model '" + arch_ + "'");
  const int32_t* device = nullptr;
  if (arena_.allocated() && arena_.params().device().is_cuda()) {  // one upload for all layers
    mc_keys_device_.resize({rows}, DType::i32, arena_.params().device(), "MC-dropout row keys");
    kernels::copy_bytes(mc_keys_device_.raw(), true, mc_keys_.data(), false,
                        mc_keys_.size() * sizeof(int32_t));  // ordered: the stream blocks
    device = mc_keys_device_.data<int32_t>();
  }
  for (auto& l : layers_)
    if (auto* d = dynamic_cast<Dropout*>(l.get()))
      d->use_mc_row_keys(mc_keys_.data(), device, rows);
}

void Model::set_mc_first_position(int64_t position) {
  for (auto& l : layers_)
    if (auto* d = dynamic_cast<Dropout*>(l.get())) d->set_mc_first_position(position);
}

void Model::set_fused_inference(bool on) {
  NSAL_CHECK(!on || supports_fused_inference(),
             "model '{}' has no fused inference path (no convolution -> BatchNorm sequences)",
             arch_);
  fused_inference_ = on;
}

namespace {

// Points the context at a plan for one forward, and away from it however the forward ends.
class PlanScope {
 public:
  PlanScope(Context& ctx, MemoryPlan& plan) : ctx_(ctx), plan_(plan) {
    ctx_.set_memory_plan(&plan_);
  }
  ~PlanScope() {
    ctx_.set_memory_plan(nullptr);
    if (plan_.state() != MemoryPlan::State::idle) plan_.abandon();
  }
  PlanScope(const PlanScope&) = delete;
  PlanScope& operator=(const PlanScope&) = delete;

 private:
  Context& ctx_;
  MemoryPlan& plan_;
};

}  // namespace

bool Model::PlanSlot::tried_for(const Tensor& x, int on_path) const {
  // Compared in place: this runs at every training forward, which allocates nothing.
  return tried && path == on_path && x.dtype() == dtype && x.device() == device && x.ndim() >= 1 &&
         std::equal(x.shape().begin() + 1, x.shape().end(), shape.begin(), shape.end());
}

void Model::PlanSlot::mark(const Tensor& x, int on_path) {
  tried = true;
  shape = Shape(x.shape().begin() + 1, x.shape().end());
  dtype = x.dtype();
  device = x.device();
  path = on_path;
}

void Model::release_training_arena() {
  NSAL_CHECK(train_plan_.plan.state() != MemoryPlan::State::running,
             "model '{}': release_training_arena() between a training forward and its backward",
             arch_);
  train_plan_.arena = Tensor();
}

int Model::forward_path(const Context& ctx) const {
  if (!fused_inference_) return 0;
  return ctx.math_mode() == MathMode::bf16 ? 2 : 1;
}

void* Model::PlanSlot::arena_for(int64_t n, Device on_device, const char* what) {
  arena.resize({static_cast<int64_t>(plan.bytes_for(n))}, DType::u8, on_device, what);
  return arena.raw();
}

const Tensor& Model::forward(Context& ctx, const Tensor& x) {
  MemoryPlan& plan = train_plan_.plan;
  if (plan.state() == MemoryPlan::State::running)  // a training forward no backward followed
    plan.abandon();
  if (!training_ || !train_plan_.on || ctx.memory_plan() != nullptr || x.ndim() < 1 ||
      x.dim(0) == 0)
    return forward_impl(ctx, x);
  ensure_training_plan(ctx, x);
  if (!plan.planned()) return forward_impl(ctx, x);
  const int64_t n = x.dim(0);
  void* arena = train_plan_.arena_for(n, x.device(), "training plan arena");
  plan.begin_run(n, arena);
  ctx.set_memory_plan(&plan);
  try {
    const Tensor& y = forward_impl(ctx, x);
    ctx.set_memory_plan(nullptr);
    return y;  // the run goes on: backward() takes the rest of it
  } catch (...) {
    ctx.set_memory_plan(nullptr);
    plan.abandon();
    throw;
  }
}

void Model::backward(Context& ctx, const Tensor& doutput) {
  if (train_plan_.plan.state() != MemoryPlan::State::running || ctx.memory_plan() != nullptr) {
    backward_impl(ctx, doutput);
    return;
  }
  PlanScope scope(ctx, train_plan_.plan);
  backward_impl(ctx, doutput);
  train_plan_.plan.end_run();
}

void Model::ensure_training_plan(Context& ctx, const Tensor& x) {
  if (train_plan_.tried_for(x)) return;  // planned, or found not to fit this shape
  check_input(ctx, x);
  // One sample forward and backward, recorded; what they change is put back afterwards.
  std::vector<Dropout*> dropouts;
  for (auto& l : layers_)
    if (auto* d = dynamic_cast<Dropout*>(l.get())) dropouts.push_back(d);
  std::vector<uint64_t> steps;
  for (Dropout* d : dropouts)
    steps.push_back(d->step());
  Tensor buffers = arena_.buffers().clone();
  Tensor grads = arena_.grads().clone();
  train_plan_.mark(x);  // after the copies: if they fail, nothing is marked
  auto put_back = [&] {
    arena_.buffers().copy_from(buffers);
    arena_.grads().copy_from(grads);
    for (size_t i = 0; i < dropouts.size(); ++i)
      dropouts[i]->set_step(steps[i]);
  };
  MemoryPlan& plan = train_plan_.plan;
  try {
    const Tensor one = x.slice0(0, 1);
    PlanScope scope(ctx, plan);
    plan.begin_recording();
    const Tensor& y = forward_impl(ctx, one);
    const void* kept[2] = {y.raw(), features().raw()};
    const Tensor dy = Tensor::zeros(y.shape(), y.dtype(), y.device());
    backward_impl(ctx, dy);
    plan.finish_recording(1, {kept[0], kept[1]});
  } catch (const Error& e) {
    put_back();
    plan.abandon();
    // Out of memory or a device error: not a property of the shape, so the next step tries
    // again. Anything else (BatchNorm over a single value, say: a model that cannot train on one
    // sample) leaves the model to train without the plan.
    if (dynamic_cast<const OutOfMemoryError*>(&e) || dynamic_cast<const CudaError*>(&e)) {
      train_plan_.tried = false;
      throw;
    }
    return;
  }
  put_back();
}

const Tensor& Model::infer(Context& ctx, const Tensor& x) {
  if (ctx.memory_plan() != nullptr) {       // inside another model's infer() on this context:
    MemoryPlan* outer = ctx.memory_plan();  // its plan is not this model's
    ctx.set_memory_plan(nullptr);
    struct Restore {
      Context& c;
      MemoryPlan* p;
      ~Restore() { c.set_memory_plan(p); }
    } restore{ctx, outer};
    return infer(ctx, x);
  }
  if (!infer_uses_plan() || x.ndim() < 1 || x.dim(0) == 0) return forward(ctx, x);
  check_input(ctx, x);
  MemoryPlan& plan = infer_plan_.plan;
  const int path = forward_path(ctx);
  if (!plan.planned() || !infer_plan_.tried_for(x, path)) {  // recorded again when the path
    const Tensor one = x.slice0(0, 1);                       // or the input shape changes
    PlanScope scope(ctx, plan);
    plan.begin_recording();
    const Tensor& y = forward(ctx, one);
    plan.finish_recording(1, {y.raw(), features().raw()});
    infer_plan_.mark(x, path);
  }
  const int64_t n = x.dim(0);
  void* arena = infer_plan_.arena_for(n, x.device(), "inference plan arena");
  PlanScope scope(ctx, plan);
  plan.begin_run(n, arena);
  const Tensor& y = forward(ctx, x);
  plan.end_run();
  return y;
}

void Model::check_input(const Context& ctx, const Tensor& x) const {
  NSAL_CHECK_AS(ShapeError, built(), "model '{}': forward() before build()", arch_);
  Shape want = input_shape();
  bool ok = x.ndim() == static_cast<int>(want.size()) + 1;
  for (size_t i = 0; ok && i < want.size(); ++i)
    ok = want[i] < 0 || x.shape()[i + 1] == want[i];
  NSAL_CHECK_AS(ShapeError, ok, "model '{}': input {} does not fit; expected (N, {})", arch_,
                x.describe(), shape_str(want).substr(1, shape_str(want).size() - 2));
  NSAL_CHECK_AS(ShapeError, x.device() == arena_.device() && x.device() == ctx.device(),
                "model '{}': input on {} but the model lives on {}", arch_, x.device().str(),
                arena_.device().str());
  NSAL_CHECK_AS(ShapeError, x.dtype() == arena_.dtype(), "model '{}': input is {}, weights are {}",
                arch_, dtype_name(x.dtype()), dtype_name(arena_.dtype()));
}

}  // namespace nsal

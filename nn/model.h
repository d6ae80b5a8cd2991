// Model: a named graph of layers over one parameter arena. Concrete models (nn/models/) compose
// layers in code: forward() runs them in order, backward() in reverse, like llm.c. Parameter
// names and layouts follow the PyTorch reference code of each architecture, so checkpoints load
// into the equivalent PyTorch model and back.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nn/context.h"
#include "nn/layer.h"
#include "nn/memory_plan.h"
#include "nn/param_arena.h"

namespace nsal {

// Runs a chain of single-input layers: forward in order, backward in reverse. Layers that are
// the identity in the current mode (Layer::is_identity) are passed over in both directions.
class Sequential {
 public:
  void push(Layer* layer) { layers_.push_back(layer); }
  const Tensor& forward(Context& ctx, const Tensor& x);
  const Tensor& backward(Context& ctx, const Tensor& dy);
  bool empty() const { return layers_.empty(); }
  const std::vector<Layer*>& layers() const { return layers_; }
  // The result of the last forward() (its input when every layer was passed over).
  const Tensor& output() const;

 private:
  std::vector<Layer*> layers_;
  std::vector<char> passed_over_;  // per layer, as decided by the last forward()
  const Tensor* out_ = nullptr;
};

// Hands a new layer to the owning model and returns it: blocks (nn/models/basic_block.h) create
// their layers through one, bound to Model::add_owned.
using LayerAdder = std::function<Layer*(std::unique_ptr<Layer>)>;

// What builds a model (nn/models/registry.h) and what a checkpoint records about it.
struct ModelSpec {
  ModelSpec() = default;
  ModelSpec(std::string arch_, int64_t in_channels_ = 3, int64_t classes_ = 10,
            std::vector<int64_t> hidden_ = {})
      : arch(std::move(arch_)),
        in_channels(in_channels_),
        classes(classes_),
        hidden(std::move(hidden_)) {}
  std::string arch;
  int64_t in_channels = 3;      // mlp: input features
  int64_t classes = 10;         // regression: number of outputs
  std::vector<int64_t> hidden;  // mlp: hidden widths (empty: the default); unused elsewhere
};

class Model {
 public:
  explicit Model(std::string arch) : arch_(std::move(arch)) {}
  virtual ~Model() = default;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const std::string& arch() const { return arch_; }
  // The spec that rebuilds this model: by default arch, input_shape()[0] and num_outputs().
  virtual ModelSpec spec() const;

  // Declares every layer's parameters, allocates the arena on `device` and initialises it as
  // PyTorch does by default, from `seed`; each dropout layer gets its own mask seed derived from
  // `seed` (kernels::dropout_layer_seed).
  void build(Device device, uint64_t seed, DType dtype = DType::f32);
  bool built() const { return arena_.allocated(); }
  ParamArena& arena() { return arena_; }
  const ParamArena& arena() const { return arena_; }

  void set_training(bool on);
  bool training() const { return training_; }
  // MC-dropout: dropout layers stay on while everything else is in eval mode. Each sample's
  // mask is chosen by the pass and the sample's dataset index, or its position in the pool for
  // inputs without one (nn/layers/dropout.h); al::forward_in_pieces sets them for every batch
  // it runs. Turning it on starts at pass 0, position 0.
  void set_mc_dropout(bool on);
  bool mc_dropout() const { return mc_dropout_; }
  void set_mc_pass(int64_t pass);
  void set_mc_first_position(int64_t position);
  // The dataset indices of the next batch's rows (`rows` of them, host memory) as their MC
  // masks' keys, so that a sample's masks do not depend on the rest of the pool
  // (al::forward_in_pieces sets them where it has them).
  void set_mc_row_keys(const int64_t* keys, int64_t rows);

  // Inference fast path (nn/fuse.h): while on, every forward() in eval mode runs each
  // conv -> BatchNorm (-> ReLU, with the residual add before it) as one convolution with the
  // BatchNorm folded in, refolded from the current weights at every forward; training mode and
  // MC-dropout ignore it. Under MathMode::bf16 the fused path runs in bfloat16 channels-last
  // (nn/fuse.h). Off by default (the layer-by-layer path is the reference); runs and commands turn
  // it on for GPUs (al::fused_inference_rule). A forward that ran fused has no backward() (it
  // throws). Throws for a model without such sequences.
  void set_fused_inference(bool on);
  bool fused_inference() const { return fused_inference_; }
  virtual bool supports_fused_inference() const { return false; }

  // Per-sample input shape, e.g. (1, 28, 28); -1 accepts any size (segmentation H, W). The
  // batch dimension comes first in forward().
  virtual Shape input_shape() const = 0;
  virtual int64_t num_outputs() const = 0;
  // True for models whose outputs are per pixel, (N, classes, H, W): segmentation models.
  virtual bool per_pixel_outputs() const { return false; }
  // (N, ...input_shape) -> outputs (N, num_outputs) (segmentation: (N, classes, H, W)). In
  // training mode it runs under the training memory plan (see set_training_plan), which the
  // first training forward for a per-sample input shape records.
  const Tensor& forward(Context& ctx, const Tensor& x);
  // d(loss)/d(outputs) -> accumulates parameter gradients. After a training-mode forward, the
  // input gradients of all layers take their bytes from the training plan's arena too.
  void backward(Context& ctx, const Tensor& doutput);

  // forward() for inference, when no backward() will follow: in eval mode the outputs of all
  // ops share one arena laid out by the inference memory plan (nn/memory_plan.h), so the
  // forward holds a few activations instead of every one of them; results are bit-identical to
  // forward()'s. The first call for a per-sample input shape records the plan on one sample.
  // The fused paths run under it too: the plan is recorded again whenever the path (layers,
  // fused, fused bf16) or the per-sample shape changes. In training mode, with MC-dropout on, or
  // with the plan switched off, it is forward(). The result
  // (and features()) stays valid until the next forward or infer.
  const Tensor& infer(Context& ctx, const Tensor& x);
  void set_inference_plan(bool on) { infer_plan_.on = on; }
  bool inference_plan() const { return infer_plan_.on; }
  // Whether infer() would run under the plan in the current mode.
  bool infer_uses_plan() const { return !training_ && !mc_dropout_ && infer_plan_.on; }
  // Arena bytes per sample of the current plan (0 before the first planned infer()).
  size_t inference_bytes_per_sample() const { return infer_plan_.bytes_per_sample(); }

  // Training: every buffer of a training step (the layers' outputs, the input gradients that
  // backward() passes from layer to layer, the sums of gradients at residual adds) is a slice
  // of one arena, laid out by a memory plan (nn/memory_plan.h) that the first training-mode
  // forward for a per-sample shape records by running one sample forward and backward, with the
  // weights' gradients, BatchNorm statistics and dropout steps put back as they were afterwards.
  // An output lives until the last backward that reads it, so outputs that only the next layer's
  // forward reads (a BatchNorm's under its ReLU, a residual sum's) are freed early, and
  // gradients reuse the bytes of outputs whose backward has run. Same outputs and gradients as
  // without it, bit for bit. The step's outputs (and features()) stay valid until the next
  // forward. On by default.
  void set_training_plan(bool on) { train_plan_.on = on; }
  bool training_plan() const { return train_plan_.on; }
  // Arena bytes per sample of the training plan (0 before the first training forward with it).
  size_t training_bytes_per_sample() const { return train_plan_.bytes_per_sample(); }
  // Frees the training plan's arena (the plan stays; the next training forward allocates the
  // arena again): for the evaluation and acquisition that follow training. The outputs of the
  // last training step go with it. Throws between a training forward and its backward.
  void release_training_arena();
  // Penultimate features of the last forward(), (N, D): for CoreSet and feature-output scoring.
  virtual const Tensor& features() const = 0;

  const std::vector<std::unique_ptr<Layer>>& layers() const { return layers_; }

 protected:
  template <typename L, typename... Args>
  L* add(Args&&... args) {
    auto layer = std::make_unique<L>(std::forward<Args>(args)...);
    L* raw = layer.get();
    layers_.push_back(std::move(layer));
    return raw;
  }
  // Takes ownership of an already built layer (blocks create their layers this way).
  template <typename L>
  L* add_owned(std::unique_ptr<L> layer) {
    L* raw = layer.get();
    layers_.push_back(std::move(layer));
    return raw;
  }
  // Checks x against input_shape() and the arena, naming the model in the error.
  void check_input(const Context& ctx, const Tensor& x) const;

  // The model's own forward and backward (forward() and backward() add the memory plans).
  virtual const Tensor& forward_impl(Context& ctx, const Tensor& x) = 0;
  virtual void backward_impl(Context& ctx, const Tensor& doutput) = 0;

 private:
  std::string arch_;
  std::vector<std::unique_ptr<Layer>> layers_;
  ParamArena arena_;
  bool training_ = true;
  bool fused_inference_ = false;
  bool mc_dropout_ = false;
  std::vector<int32_t> mc_keys_;  // the next batch's MC-dropout row keys, and on the device
  Tensor mc_keys_device_;
  // A memory plan, the input it was recorded for (per-sample shape, dtype, device) and its
  // arena: one for infer(), one for the training step.
  struct PlanSlot {
    explicit PlanSlot(MemoryPlan::Pass pass) : plan(pass) {}
    bool on = true;
    bool tried = false;  // recorded for `shape` (planned, or found not to fit it)
    MemoryPlan plan;
    Shape shape;
    DType dtype = DType::f32;
    Device device = Device::cpu();
    int path = 0;  // which forward the plan follows (Model::forward_path)
    Tensor arena;
    // Whether the slot was tried for x's per-sample shape, dtype and device on `path`.
    bool tried_for(const Tensor& x, int on_path = 0) const;
    // Marks the slot as tried for x on `path` from now on.
    void mark(const Tensor& x, int on_path = 0);
    // The arena, grown to the plan for a batch of n on `on_device`.
    void* arena_for(int64_t n, Device on_device, const char* what);
    size_t bytes_per_sample() const { return plan.planned() ? plan.bytes_per_sample() : 0; }
  };
  PlanSlot infer_plan_{MemoryPlan::Pass::inference};
  PlanSlot train_plan_{MemoryPlan::Pass::training};

  // Records train_plan_ for x's per-sample shape unless it was tried for it.
  void ensure_training_plan(Context& ctx, const Tensor& x);
  // The eval-mode forward that runs now, as the inference plan's key: 0 the layers, 1 the fused
  // path in float32, 2 the fused path in bf16 (their ops write different buffers).
  int forward_path(const Context& ctx) const;
};

// Sets a model's training mode for a scope and puts the previous mode back on every way out.
class TrainingModeScope {
 public:
  TrainingModeScope(Model& m, bool training) : m_(m), was_(m.training()) {
    m.set_training(training);
  }
  ~TrainingModeScope() { m_.set_training(was_); }
  TrainingModeScope(const TrainingModeScope&) = delete;
  TrainingModeScope& operator=(const TrainingModeScope&) = delete;

 private:
  Model& m_;
  bool was_;
};

// Turns MC-dropout on for a scope (from pass 0) and off on every way out.
class McDropoutScope {
 public:
  explicit McDropoutScope(Model& m) : m_(m) { m.set_mc_dropout(true); }
  ~McDropoutScope() { m_.set_mc_dropout(false); }
  McDropoutScope(const McDropoutScope&) = delete;
  McDropoutScope& operator=(const McDropoutScope&) = delete;

 private:
  Model& m_;
};

}  // namespace nsal

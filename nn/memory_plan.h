// Memory plans: every buffer a pass writes is a slice of ONE arena, and buffers whose lifetimes
// do not overlap share bytes. Two passes use one:
// - inference (Model::infer): the outputs of an eval-mode forward that no backward will follow.
//   Without the plan every layer keeps its own output buffer (which backward needs), so an eval
//   forward of resnet18-cifar holds all ~60 activations at once;
// - a training step (Model::forward then Model::backward): the layers' outputs, the input
//   gradients handed from layer to layer and the gradient sums at residual adds. An output
//   lives until the last backward that reads it (Layer::backward_reads: a convolution reads its
//   input, a ReLU its output, a residual add neither), so an output that only the next forward
//   reads (a BatchNorm's, under its ReLU) is freed at once, and the gradients reuse the bytes
//   of the outputs whose backward has run.
//
// How: the pass is recorded once per per-sample input shape on ONE sample, op by op: which
// earlier buffers each op reads and how large its own is. A buffer lives from the op that writes
// it to the last op that reads it; the buffers read after the pass (a forward's result and
// features()) live to the end. Offsets are then assigned greedily (largest first, lowest offset
// that no overlapping lifetime uses), per sample: every buffer's size is proportional to the
// batch, so the plan for a batch of N is the one-sample plan scaled by N. Later passes take
// their buffers from the arena in the recorded order, and each op checks that its buffer has the
// planned size (a model whose op sequence changed with the batch would be an error, not a silent
// overlap).
//
// Ops take part through plan_output() (Layer forward and backward, ResidualAdd, Concat, the
// fused path's ConvBnUnit and its bf16 layout and pooling steps) and by
// noting what they read; a model that wrote or read buffers any other way would have to as
// well. Results are bit-identical to the unplanned passes: the same kernels run on the same
// values, only the buffers differ (tests/test_memory_plan.cpp checks every model).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "nn/tensor.h"

namespace nsal {

class Context;

class MemoryPlan {
 public:
  // What follows the forward: nothing (inference), or the backward of the same step.
  enum class Pass { inference, training };
  explicit MemoryPlan(Pass pass = Pass::inference) : pass_(pass) {}
  bool backward_follows() const { return pass_ == Pass::training; }

  enum class State { idle, recording, running };
  State state() const { return state_; }

  // Recording: the op now running reads `data` (ignored unless an earlier output holds it) and
  // then writes its output, `bytes` long at `data`.
  void begin_recording();
  void read(const void* data);
  void wrote(const void* data, size_t bytes);
  // Ends the recording of a pass over `batch` samples; `keep` are buffers read after the pass
  // (a forward's result, features()). Assigns the offsets.
  void finish_recording(int64_t batch, std::initializer_list<const void*> keep);

  // Running: a pass over `batch` samples takes its buffers from `arena`, which must hold
  // bytes_for(batch) bytes.
  void begin_run(int64_t batch, void* arena);
  // The next op's output, `bytes` long; throws Error when that is not the planned size.
  void* next_output(size_t bytes);
  // Throws Error when the pass wrote fewer buffers than planned; back to idle either way.
  void end_run();
  void abandon() { state_ = State::idle; }

  bool planned() const { return planned_; }
  size_t bytes_per_sample() const { return arena_per_sample_; }
  size_t bytes_for(int64_t batch) const { return arena_per_sample_ * static_cast<size_t>(batch); }
  size_t outputs() const { return buffers_.size(); }

 private:
  struct Buffer {
    const char* data = nullptr;   // while recording
    size_t bytes = 0;             // per sample
    size_t span = 0;              // per sample, rounded up to the alignment
    int64_t first = 0, last = 0;  // ops that write it and last read it
    size_t offset = 0;            // per sample
  };
  Pass pass_;
  State state_ = State::idle;
  bool planned_ = false;
  std::vector<Buffer> buffers_;
  int64_t step_ = 0;
  size_t arena_per_sample_ = 0;
  // Running.
  int64_t batch_ = 0;
  char* arena_ = nullptr;
  size_t next_ = 0;
};

// Gives `out` its buffer for the op now running, after noting the op's inputs: a slice of the
// arena while ctx's plan runs, else out's own storage, resized (and recorded while the plan
// records). Returns true when the output is a slice of the arena (for a forward output: no
// backward may follow).
bool plan_output(Context& ctx, const Tensor* const* inputs, size_t n_inputs, Tensor& out,
                 const Shape& shape, DType dtype, Device device, const char* what);
inline bool plan_output(Context& ctx, std::initializer_list<const Tensor*> inputs, Tensor& out,
                        const Shape& shape, DType dtype, Device device, const char* what) {
  return plan_output(ctx, inputs.begin(), inputs.size(), out, shape, dtype, device, what);
}

}  // namespace nsal

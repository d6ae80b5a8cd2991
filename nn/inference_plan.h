// Inference memory plan: in an eval-mode forward that no backward will follow (Model::infer),
// every op's output is a slice of ONE arena, and outputs whose lifetimes do not overlap share
// bytes. Without it every layer keeps its own output buffer (which backward needs), so an eval
// forward of resnet18-cifar holds all ~60 activations at once.
//
// How: the first infer() for a per-sample input shape runs the model once on ONE sample while
// the plan records, op by op, which earlier outputs each op reads and how large its output is.
// An output lives from the op that writes it to the last op that reads it; the model's result
// and features() live to the end. Offsets are then assigned greedily (largest first, lowest
// offset that no overlapping lifetime uses), per sample: every output's size is proportional to
// the batch, so the plan for a batch of N is the one-sample plan scaled by N. Later forwards take
// their outputs from the arena in the recorded order, and each op checks that its output has the
// planned size (a model whose op sequence changed with the batch would be an error, not a silent
// overlap).
//
// Ops take part through plan_output() (Layer, ResidualAdd, Concat); a model that computed
// outputs any other way would have to as well. Results are bit-identical to the unplanned
// forward: the same kernels run on the same values, only the buffers differ
// (tests/test_inference_plan.cpp checks every model).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "nn/tensor.h"

namespace nsal {

class Context;

class InferencePlan {
 public:
  enum class State { idle, recording, running };
  State state() const { return state_; }

  // Recording: the op now running reads `data` (ignored unless an earlier output holds it) and
  // then writes its output, `bytes` long at `data`.
  void begin_recording();
  void read(const void* data);
  void wrote(const void* data, size_t bytes);
  // Ends the recording of a forward over `batch` samples; `keep` are outputs read after the
  // forward (its result, features()). Assigns the offsets.
  void finish_recording(int64_t batch, std::initializer_list<const void*> keep);

  // Running: a forward over `batch` samples takes its outputs from `arena`, which must hold
  // bytes_for(batch) bytes.
  void begin_run(int64_t batch, void* arena);
  // The next op's output, `bytes` long; throws Error when that is not the planned size.
  void* next_output(size_t bytes);
  // Throws Error when the forward wrote fewer outputs than planned; back to idle either way.
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
// records). Returns true when the output is a slice of the arena (no backward may follow).
bool plan_output(Context& ctx, const Tensor* const* inputs, size_t n_inputs, Tensor& out,
                 const Shape& shape, DType dtype, Device device, const char* what);
inline bool plan_output(Context& ctx, std::initializer_list<const Tensor*> inputs, Tensor& out,
                        const Shape& shape, DType dtype, Device device, const char* what) {
  return plan_output(ctx, inputs.begin(), inputs.size(), out, shape, dtype, device, what);
}

}  // namespace nsal

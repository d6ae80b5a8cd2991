#include "nn/memory_plan.h"

#include <algorithm>
#include <numeric>

#include "kernels/error.h"
#include "nn/context.h"

namespace nsal {
namespace {

constexpr size_t kAlign = 64;  // bytes per sample: every slice starts on a cache line

size_t align_up(size_t b) {
  return (b + kAlign - 1) / kAlign * kAlign;
}

}  // namespace

void MemoryPlan::begin_recording() {
  state_ = State::recording;
  planned_ = false;
  buffers_.clear();
  step_ = 0;
  arena_per_sample_ = 0;
}

void MemoryPlan::read(const void* data) {
  if (state_ != State::recording || data == nullptr) return;
  const char* p = static_cast<const char*>(data);
  for (Buffer& b : buffers_)
    if (p >= b.data && p < b.data + b.bytes) b.last = std::max(b.last, step_);
}

void MemoryPlan::wrote(const void* data, size_t bytes) {
  if (state_ != State::recording) return;
  Buffer b;
  b.data = static_cast<const char*>(data);
  b.bytes = bytes;
  b.first = b.last = step_++;
  buffers_.push_back(b);
}

void MemoryPlan::finish_recording(int64_t batch, std::initializer_list<const void*> keep) {
  NSAL_CHECK(state_ == State::recording, "memory plan: finish_recording() without recording");
  NSAL_CHECK(batch > 0, "memory plan: recorded a pass over {} samples", batch);
  for (const void* k : keep)
    read(k);  // (step_ is past every op: these live to the end)
  for (Buffer& b : buffers_) {
    NSAL_CHECK(b.bytes % static_cast<size_t>(batch) == 0,
               "memory plan: an output of {} bytes does not divide by the batch of {}", b.bytes,
               batch);
    b.bytes /= static_cast<size_t>(batch);
    b.span = align_up(b.bytes);
    b.data = nullptr;
  }
  // Largest first; each at the lowest offset clear of every placed buffer it overlaps in time.
  std::vector<size_t> order(buffers_.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return buffers_[a].span > buffers_[b].span; });
  std::vector<size_t> placed;
  for (size_t i : order) {
    Buffer& b = buffers_[i];
    std::vector<std::pair<size_t, size_t>> taken;  // [begin, end) of overlapping lifetimes
    for (size_t j : placed) {
      const Buffer& o = buffers_[j];
      if (o.first <= b.last && b.first <= o.last) taken.emplace_back(o.offset, o.offset + o.span);
    }
    std::sort(taken.begin(), taken.end());
    size_t offset = 0;
    for (const auto& t : taken) {
      if (offset + b.span <= t.first) break;
      offset = std::max(offset, t.second);
    }
    b.offset = offset;
    arena_per_sample_ = std::max(arena_per_sample_, offset + b.span);
    placed.push_back(i);
  }
  state_ = State::idle;
  planned_ = true;
}

void MemoryPlan::begin_run(int64_t batch, void* arena) {
  NSAL_CHECK(planned_ && state_ == State::idle, "memory plan: begin_run() without a plan");
  state_ = State::running;
  batch_ = batch;
  arena_ = static_cast<char*>(arena);
  next_ = 0;
}

void* MemoryPlan::next_output(size_t bytes) {
  NSAL_CHECK(state_ == State::running, "memory plan: next_output() outside a run");
  if (next_ >= buffers_.size() || buffers_[next_].bytes * static_cast<size_t>(batch_) != bytes) {
    state_ = State::idle;
    throw Error(fmt::format(
        "memory plan: buffer {} of the pass is {} bytes, the plan recorded {} ({} "
        "buffers planned); the model's ops differ from the recorded pass",
        next_, bytes,
        next_ < buffers_.size() ? buffers_[next_].bytes * static_cast<size_t>(batch_) : 0,
        buffers_.size()));
  }
  const Buffer& b = buffers_[next_++];
  return arena_ + b.offset * static_cast<size_t>(batch_);
}

void MemoryPlan::end_run() {
  const size_t used = next_;
  state_ = State::idle;
  NSAL_CHECK(used == buffers_.size(),
             "memory plan: the pass wrote {} buffers, the plan recorded {}", used, buffers_.size());
}

bool plan_output(Context& ctx, const Tensor* const* inputs, size_t n_inputs, Tensor& out,
                 const Shape& shape, DType dtype, Device device, const char* what) {
  MemoryPlan* plan = ctx.memory_plan();
  if (plan && plan->state() == MemoryPlan::State::running) {
    const size_t bytes = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
    out = Tensor::view(plan->next_output(bytes), shape, dtype, device);
    return true;
  }
  if (plan)
    for (size_t i = 0; i < n_inputs; ++i)
      if (inputs[i]) plan->read(inputs[i]->raw());  // null: an optional input not given
  if (!out.owns_storage()) out = Tensor();          // a slice of an arena from an earlier pass
  out.resize(shape, dtype, device, what);
  if (plan) plan->wrote(out.raw(), out.nbytes());
  return false;
}

}  // namespace nsal

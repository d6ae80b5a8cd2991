// Dropout (any shape): in training mode each element is zeroed with probability p and the kept
// ones are scaled by 1 / (1 - p); in eval mode it is the identity, unless MC mode is on, in
// which case it keeps dropping at inference (Monte-Carlo dropout).
//
// The mask is reproducible and identical on the CPU and the GPU: element i at step s is decided
// by Philox4x32-10 with key = seed and counter = (i / 4, s) (kernels/dropout.h). Model::build
// gives each dropout layer its own seed, derived from the build seed. Every forward
// in training mode uses the current step and then advances it; backward applies the same mask
// again. step() is part of a run's state: set_step() restores it on resume. On a GPU the
// training-mode step lives in device memory and the forward advances it there
// (kernels::gpu::dropout_forward_counted), so that a training step captured in a CUDA graph draws
// a new mask at every replay; step() and set_step() read and write that copy (the first such
// forward makes it, so it belongs to the warm-up before a capture). A layer with p = 0 is the
// identity and keeps its step on the host.
//
// MC dropout at inference (eval mode, MC on) does not use or advance the step: each sample gets
// its own mask, chosen by the pass and a key of the sample (kernels::mc_dropout_step), which the
// caller sets with set_mc_pass() and either set_mc_row_keys() (each row's dataset index: the
// sample's masks then depend neither on the batch nor on the rest of the pool) or
// set_mc_first_position() (the pool position of the batch's first row, for inputs without
// dataset indices). The same pass gives the same masks.
#pragma once

#include <cstdint>
#include <vector>

#include "nn/layer.h"

namespace nsal {

class Dropout : public Layer {
 public:
  Dropout(std::string name, double p = 0.5, uint64_t seed = 0);
  Shape output_shape(const Shape& in) const override { return in; }

  double p() const { return p_; }
  uint64_t seed() const { return seed_; }
  void set_seed(uint64_t seed) { seed_ = seed; }
  // MC dropout: drop in eval mode too.
  bool mc() const { return mc_; }
  void set_mc(bool on) {
    mc_ = on;
    pending_rows_ = -1;
  }
  // Whether the next forward() drops (training, or MC mode).
  bool active() const { return training() || mc_; }
  bool is_identity() const override { return !active(); }
  BackwardReads backward_reads(bool) const override { return {false, false}; }  // the mask
  // The step the next training-mode forward() will use.
  uint64_t step() const;
  void set_step(uint64_t step);
  // MC dropout at inference: the pass, and either the keys of the next forward's rows (dataset
  // indices, below 2^31; used by that forward and its backward only) or the pool position of the
  // first row of forwards without keys (clears pending keys). set_mc_row_keys copies the keys
  // (and uploads them to the input's device at the forward); use_mc_row_keys takes keys its
  // caller keeps until the forward's backward, on the host and, for a GPU input, on the device
  // (Model::set_mc_row_keys: one upload per batch for all layers).
  void set_mc_pass(int64_t pass);
  void set_mc_row_keys(const int64_t* keys, int64_t rows);
  void use_mc_row_keys(const int32_t* host, const int32_t* device, int64_t rows);
  void set_mc_first_position(int64_t position);
  // keys[0..rows) as row keys, or an error naming `who` and the bad key.
  static std::vector<int32_t> checked_row_keys(const int64_t* keys, int64_t rows,
                                               const std::string& who);

 protected:
  void forward_impl(Context& ctx, const Tensor& x, Tensor& y) override;
  void backward_impl(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                     Tensor* dx) override;

 private:
  bool choose_mask(const Tensor& x);
  // The device copy of the training steps (allocated at the first masking GPU training forward).
  uint64_t* gpu_steps(Device device);

  bool masked_ = false;  // whether the last forward applied a mask
  double p_;
  uint64_t seed_;
  bool mc_ = false;
  uint64_t step_ = 0;
  int64_t mc_pass_ = 0, mc_first_ = 0;
  uint64_t mask_step_ = 0;  // the step of the last forward's mask, for backward
  // GPU training: (next step, last forward's step) as two uint64 in device memory; whether the
  // last forward took them from there.
  Tensor gpu_steps_;
  bool counted_ = false;
  int64_t mask_rows_ = 1;  // and its rows (one per sample in MC dropout at inference)
  // Row keys: the pending ones (for the next forward; rows < 0: none), the copies
  // set_mc_row_keys keeps, and those of the last forward's mask (null: positions).
  const int32_t* pending_host_ = nullptr;
  const int32_t* pending_device_ = nullptr;
  int64_t pending_rows_ = -1;
  std::vector<int32_t> own_keys_;
  Tensor own_keys_device_;
  const int32_t* mask_keys_ = nullptr;
};

}  // namespace nsal

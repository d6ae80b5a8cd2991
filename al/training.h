// Training and evaluation of a model on a dataset split: the step every strategy shares.
// Classification trains with cross-entropy (optionally class-balanced), regression with MSE on
// standardised targets, segmentation with cross-entropy that ignores the dataset's ignore label.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "al/progress.h"
#include "al/run_config.h"
#include "data/dataset.h"
#include "nn/context.h"
#include "nn/model.h"

namespace nsal::al {

struct EpochStats {
  int epoch = 0;
  double loss = 0;  // mean over the epoch's samples
  double seconds = 0;
  double images_per_second = 0;
};

// Trains `model` (already built) on `subset` of `train` for cfg.epochs epochs from its current
// weights. Deterministic for a given seed on a given backend.
std::vector<EpochStats> train_model(Model& model, Context& ctx, const data::Dataset& train,
                                    const std::vector<int64_t>& subset, const TrainConfig& cfg,
                                    uint64_t seed, Progress& progress,
                                    const std::string& label = "train",
                                    const std::function<void(const EpochStats&)>& on_epoch = {});

// Refuses a model whose outputs do not fit the dataset's task: classes (classification,
// segmentation) or targets (regression) of another count, or samples of another shape. The
// error names the model's arch, the dataset (file and split) and both counts. evaluate() and the
// commands that run a checkpoint over a dataset call it first.
void check_model_fits(const Model& model, const data::Dataset& d);

// Runs the model in eval mode over the first sample of `d` on ctx, so that what only a forward
// pass finds (a size the architecture cannot take, such as segmentation sides that are not a
// multiple of 8) fails before any work, naming the model and the dataset. The model is left as
// it was.
void check_model_runs(Model& model, Context& ctx, const data::Dataset& d);

struct EvalResult {
  std::string metric;  // "accuracy" | "mIoU" | "MAE"
  double value = 0;    // accuracy and mIoU in [0, 1]; MAE in target units
  double loss = 0;
  int64_t samples = 0;
};

EvalResult evaluate(Model& model, Context& ctx, const data::Dataset& test, int batch_size);

// Whether eval-mode passes take the model's fused inference path (nn/fuse.h): where `wanted`
// (config `fused_inference`, `--no-fused`), the model has one and ctx computes on a GPU. The CPU
// keeps the layer path, the reference: fused is only a few per cent faster there (both run under
// the inference memory plan). set_fused_inference_by_rule applies the rule and returns the
// answer.
bool fused_inference_rule(const Model& model, const Context& ctx, bool wanted);
bool set_fused_inference_by_rule(Model& model, const Context& ctx, bool wanted);

// Runs the model in eval mode over `subset` (in the given order) in batches and calls
// fn(first position in subset, batch size, outputs on the context's device) for each batch.
// mc_dropout keeps dropout active, each sample's masks keyed by its dataset index (a sample's
// outputs depend neither on the batch nor on the rest of `subset`).
// On the CPU the batch is capped by inference_batch, so that large inputs (3-D volumes) do not
// exhaust the host's memory; outputs do not depend on the batch size.
using OutputFn = std::function<void(int64_t first, int64_t count, const Tensor& outputs)>;
// Returns the batch it ended with: smaller than asked when memory ran out (forward_in_pieces).
int64_t run_inference(Model& model, Context& ctx, const data::Dataset& d,
                      const std::vector<int64_t>& subset, int batch_size, const OutputFn& fn,
                      bool features = false);

// Runs the model over x (rows, ...) in slices of at most `piece` rows (Model::infer: under the
// inference memory plan) and calls fn(first + row, count, outputs) for each. When memory runs out
// in the model's pass (OutOfMemoryError), or one of its tensors has more elements than cuDNN's
// 32-bit descriptors take (BatchTooLargeError), on a slice of more than one row, `piece` is halved
// (and stays so for the caller's later calls) and the rows not yet done are retried; with one row
// the error propagates, as does any error of fn. Outputs do not depend on the slicing up to the
// last bits (on a GPU cuDNN may choose another algorithm for another batch size, so a run that
// had to shrink its batch can differ from one that did not in the last bits): MC-dropout masks
// follow each row's dataset index (dataset_indices: one per row of x) or, without them, its
// position first + row.
void forward_in_pieces(Model& model, Context& ctx, const Tensor& x, int64_t first, int64_t& piece,
                       bool features, const OutputFn& fn, const int64_t* dataset_indices = nullptr);

// Activation memory an inference batch may hold on the CPU.
constexpr size_t kInferenceActivationBytes = size_t(1) << 30;
// The inference batch to use instead of `requested`: on the CPU, at most what fits
// budget_bytes of layer outputs (the inference plan's arena, or every layer's output without a
// plan), measured by a forward pass of dataset sample `probe`; on a GPU
// `requested` (out-of-memory there shrinks the batch: forward_in_pieces).
int64_t inference_batch(Model& model, Context& ctx, const data::Dataset& d, int64_t probe,
                        int64_t requested, size_t budget_bytes = kInferenceActivationBytes);

}  // namespace nsal::al

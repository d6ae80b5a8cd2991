// An acquisition strategy: given the trained model, the labelled set and the unlabelled
// candidates, choose `budget` candidates to label. Each strategy is one small file
// (al/strategy_*.cpp) behind this interface; al/strategy_registry.cpp maps names to them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "al/noise_stability.h"
#include "al/run_config.h"
#include "data/dataset.h"
#include "nn/context.h"
#include "nn/model.h"

namespace nsal::al {

struct AcquisitionInput {
  Model& model;
  Context& ctx;
  const data::Dataset& pool_data;          // the training split
  const std::vector<int64_t>& labelled;    // dataset indices
  const std::vector<int64_t>& candidates;  // unlabelled dataset indices to choose from
  int64_t budget = 0;
  int batch_size = 512;
  uint64_t seed = 0;
};

struct Acquisition {
  std::vector<int64_t> selected;  // dataset indices, in selection order
  std::vector<float> scores;      // one per candidate (empty when the strategy has none)
  double seconds = 0;
  std::string timing;  // where the time went, for the log
};

class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual std::string name() const = 0;
  Acquisition acquire(const AcquisitionInput& in);  // checks the budget, times the call

 protected:
  virtual Acquisition select(const AcquisitionInput& in) = 0;
};

std::unique_ptr<Strategy> make_strategy(const StrategyConfig& cfg);

// Whether a strategy can score this model on this task; throws Error saying why not: entropy,
// margin and least-confidence need classification; mc-dropout and bald a model with dropout,
// classification (bald) or classification and regression (mc-dropout, whose mc_score must fit
// the task). Runs check it before they start and `nsal query` before it scores; the strategies
// check again when they select.
void check_strategy_fits(const StrategyConfig& cfg, const Model& model, data::Task task);
// The mc-dropout part of it (al/strategy_mc_dropout.cpp).
void check_mc_dropout_fits(const StrategyConfig& cfg, const Model& model, data::Task task);

// Shared helpers of the strategies.
// The `budget` highest-scoring candidates (ties: lower candidate position; NaN never chosen).
std::vector<int64_t> top_candidates(const std::vector<float>& scores,
                                    const std::vector<int64_t>& candidates, int64_t budget);
// Greedy k-center (kernels/select.h) over the rows of `rows` (N, D), float32, on the CPU or on
// the context's device: on a GPU context the GPU routine (the same selections) runs with the
// context's workspace and stream, on rows already there or uploaded once from the host; on the
// CPU, the CPU one (rows on the host). `initial` rows are the first centres (none: from the
// origin).
std::vector<int64_t> kcenter_rows(Context& ctx, const Tensor& rows,
                                  const std::vector<int64_t>& initial, int64_t budget);
// Softmax over the class axis of host logits (N, C, P) in double, into float probabilities:
// per pixel for segmentation (P pixels), per row for P = 1 (softmax_rows).
void softmax_channels(const float* logits, int64_t n, int64_t c, int64_t p, float* probs);
void softmax_rows(const float* logits, int64_t n, int64_t c, float* probs);
// Class probabilities (N, C) of the candidates on the host (eval mode; dropout per the model).
std::vector<float> candidate_probabilities(const AcquisitionInput& in, int64_t& classes);

std::unique_ptr<Strategy> make_random_strategy();
std::unique_ptr<Strategy> make_uncertainty_strategy(const std::string& kind);
std::unique_ptr<Strategy> make_noise_stability_strategy(const NoiseStabilityConfig& cfg);
std::unique_ptr<Strategy> make_mc_dropout_strategy(const std::string& score, int passes);
std::unique_ptr<Strategy> make_coreset_strategy();

}  // namespace nsal::al

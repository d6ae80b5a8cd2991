// mc-dropout and bald: T passes with dropout kept on at inference. Classification scores the
// entropy of the mean prediction or the variation ratio (mc-dropout), or the mutual information
// between prediction and weights (bald); regression scores the variance of the outputs.
#include <fmt/core.h>

#include "al/strategy.h"
#include "al/training.h"
#include "kernels/uncertainty.h"
#include "nn/layers/dropout.h"

namespace nsal::al {

namespace {

// The score a strategy computes on `task`: mc_score = "auto" is the output variance for
// regression and the entropy of the mean prediction otherwise.
std::string resolved_score(const std::string& score, data::Task task) {
  if (score != "auto") return score;
  return task == data::Task::regression ? "variance" : "entropy";
}

void check_fits(const std::string& name, const std::string& score, const Model& model,
                data::Task task) {
  bool has_dropout = false;
  for (const auto& l : model.layers())
    has_dropout |= dynamic_cast<Dropout*>(l.get()) != nullptr;
  NSAL_CHECK(has_dropout, "{}: model '{}' has no dropout layer to keep on at inference", name,
             model.arch());
  NSAL_CHECK(task != data::Task::segmentation,
             "{}: segmentation is not supported (scores are per sample over class probabilities)",
             name);
  const bool regression = task == data::Task::regression;
  NSAL_CHECK(!(regression && score == "bald"),
             "bald: the mutual information needs class probabilities; for regression use "
             "mc-dropout, which scores the variance of the outputs");
  NSAL_CHECK(!regression || score == "variance",
             "{}: regression scores the variance of the outputs (mc_score = \"auto\" or "
             "\"variance\"), not '{}'",
             name, score);
  NSAL_CHECK(regression || score != "variance",
             "{}: mc_score = \"variance\" is for regression datasets", name);
}

class McDropoutStrategy : public Strategy {
 public:
  McDropoutStrategy(std::string score, int passes) : score_(std::move(score)), passes_(passes) {}
  std::string name() const override { return score_ == "bald" ? "bald" : "mc-dropout"; }

 protected:
  Acquisition select(const AcquisitionInput& in) override {
    const std::string score = resolved_score(score_, in.pool_data.task);
    check_fits(name(), score, in.model, in.pool_data.task);
    const bool regression = in.pool_data.task == data::Task::regression;
    const int64_t n = static_cast<int64_t>(in.candidates.size());
    std::vector<float> all;  // (T, N, C)
    int64_t c = 0;
    {
      McDropoutScope mc(in.model);
      for (int t = 0; t < passes_; ++t) {
        in.model.set_mc_pass(t);
        if (regression) {
          run_inference(in.model, in.ctx, in.pool_data, in.candidates, in.batch_size,
                        [&](int64_t first, int64_t count, const Tensor& o) {
                          Tensor h = o.to(Device::cpu());
                          if (c == 0) {
                            c = h.numel() / count;
                            all.resize(static_cast<size_t>(passes_ * n * c));
                          }
                          std::copy(h.data<float>(), h.data<float>() + count * c,
                                    all.data() + (t * n + first) * c);
                        });
        } else {
          std::vector<float> p = candidate_probabilities(in, c);
          if (all.empty()) all.resize(static_cast<size_t>(passes_ * n * c));
          std::copy(p.begin(), p.end(), all.begin() + t * n * c);
        }
      }
    }
    std::vector<double> s(static_cast<size_t>(n));
    if (score == "bald")
      kernels::mc_bald(all.data(), passes_, n, c, s.data());
    else if (score == "variation-ratio")
      kernels::mc_variation_ratio(all.data(), passes_, n, c, s.data());
    else if (score == "variance")
      kernels::mc_output_variance(all.data(), passes_, n, c, s.data());
    else
      kernels::mc_entropy_of_mean(all.data(), passes_, n, c, s.data());
    Acquisition a;
    a.scores.assign(s.begin(), s.end());
    a.selected = top_candidates(a.scores, in.candidates, in.budget);
    a.timing = fmt::format("{} dropout passes over {} candidates", passes_, n);
    return a;
  }

 private:
  std::string score_;
  int passes_;
};
}  // namespace

std::unique_ptr<Strategy> make_mc_dropout_strategy(const std::string& score, int passes) {
  NSAL_CHECK(passes >= 1, "mc-dropout: passes must be at least 1, got {}", passes);
  return std::make_unique<McDropoutStrategy>(score, passes);
}

void check_mc_dropout_fits(const StrategyConfig& cfg, const Model& model, data::Task task) {
  if (cfg.name == "mc-dropout")
    check_fits(cfg.name, resolved_score(cfg.mc_score, task), model, task);
  if (cfg.name == "bald") check_fits(cfg.name, "bald", model, task);
}

}  // namespace nsal::al

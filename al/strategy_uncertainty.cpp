// entropy, margin, least-confidence: one clean pass over the candidates, a score per sample from
// its class probabilities (kernels/uncertainty.h), the top of the ranking.
#include <fmt/core.h>

#include "al/strategy.h"
#include "kernels/uncertainty.h"

namespace nsal::al {

namespace {
class UncertaintyStrategy : public Strategy {
 public:
  UncertaintyStrategy(std::string name, kernels::UncertaintyKind kind)
      : name_(std::move(name)), kind_(kind) {}
  std::string name() const override { return name_; }

 protected:
  Acquisition select(const AcquisitionInput& in) override {
    int64_t c = 0;
    std::vector<float> probs = candidate_probabilities(in, c);
    int64_t n = static_cast<int64_t>(in.candidates.size());
    std::vector<double> s(static_cast<size_t>(n));
    kernels::uncertainty_scores(probs.data(), n, c, kind_, s.data());
    Acquisition a;
    a.scores.assign(s.begin(), s.end());
    a.selected = top_candidates(a.scores, in.candidates, in.budget);
    return a;
  }

 private:
  std::string name_;
  kernels::UncertaintyKind kind_;
};
}  // namespace

std::unique_ptr<Strategy> make_uncertainty_strategy(const std::string& kind) {
  if (kind == "entropy")
    return std::make_unique<UncertaintyStrategy>(kind, kernels::UncertaintyKind::entropy);
  if (kind == "margin")
    return std::make_unique<UncertaintyStrategy>(kind, kernels::UncertaintyKind::margin);
  if (kind == "least-confidence")
    return std::make_unique<UncertaintyStrategy>(kind, kernels::UncertaintyKind::least_confidence);
  throw Error("uncertainty strategy: unknown kind '" + kind + "'");
}

}  // namespace nsal::al

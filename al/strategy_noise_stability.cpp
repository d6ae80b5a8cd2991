// noise-stability, both presets (DESIGN section 3): `paper` ranks R(x); `released` runs greedy
// k-center from the origin over the deviation vectors.
#include <fmt/core.h>

#include <chrono>
#include <cmath>

#include "al/strategy.h"

namespace nsal::al {

namespace {
class NoiseStabilityStrategy : public Strategy {
 public:
  explicit NoiseStabilityStrategy(NoiseStabilityConfig cfg) : cfg_(std::move(cfg)) {}
  std::string name() const override { return "noise-stability(" + cfg_.preset + ")"; }

 protected:
  Acquisition select(const AcquisitionInput& in) override {
    NoiseStabilityResult r = noise_stability_scores(in.model, in.ctx, in.pool_data, in.candidates,
                                                    cfg_, in.batch_size, in.seed);
    Acquisition a;
    a.scores = r.scores;
    auto t0 = std::chrono::steady_clock::now();
    if (cfg_.preset == "paper") {
      a.selected = top_candidates(r.scores, in.candidates, in.budget);
    } else {
      // Rows with non-finite deviations are never chosen: k-center runs on the finite rows.
      const int64_t n = r.vectors.dim(0), d = r.vectors.dim(1);
      const float* v = r.vectors.data<float>();
      std::vector<int64_t> keep;
      for (int64_t i = 0; i < n; ++i) {
        bool finite = true;
        for (int64_t j = 0; j < d && finite; ++j)
          finite = std::isfinite(v[i * d + j]);
        if (finite) keep.push_back(i);
      }
      Tensor rows({static_cast<int64_t>(keep.size()), d});
      for (size_t k = 0; k < keep.size(); ++k)
        std::copy(v + keep[k] * d, v + (keep[k] + 1) * d, rows.data<float>() + k * d);
      int64_t budget = std::min<int64_t>(in.budget, static_cast<int64_t>(keep.size()));
      for (int64_t k : kcenter_rows(in.ctx, rows, {}, budget))
        a.selected.push_back(in.candidates[static_cast<size_t>(keep[static_cast<size_t>(k)])]);
    }
    double sel = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    a.timing = fmt::format(
        "clean pass {:.2f}s, perturb+restore {:.3f}s, perturbed passes {:.2f}s ({} path), "
        "selection {:.3f}s; perturber memory {:.1f} KiB, input cache {:.1f} MiB, {} logged "
        "restores, {} fallback tiles, {} non-finite",
        r.timing.clean_seconds, r.timing.perturb_seconds, r.timing.perturbed_seconds,
        r.timing.passes, sel, r.timing.extra_bytes / 1024.0, r.timing.input_cache_bytes / 1048576.0,
        r.timing.logged, r.timing.fallback_tiles, r.nonfinite);
    return a;
  }

 private:
  NoiseStabilityConfig cfg_;
};
}  // namespace

std::unique_ptr<Strategy> make_noise_stability_strategy(const NoiseStabilityConfig& cfg) {
  return std::make_unique<NoiseStabilityStrategy>(cfg);
}

}  // namespace nsal::al

// coreset (Sener & Savarese): greedy k-center on the penultimate features, the labelled set as
// the first centres; the same k-center routine as the `released` noise-stability preset.
#include <fmt/core.h>

#include "al/strategy.h"
#include "al/training.h"

namespace nsal::al {

namespace {
class CoresetStrategy : public Strategy {
 public:
  std::string name() const override { return "coreset"; }

 protected:
  Acquisition select(const AcquisitionInput& in) override {
    // Rows: the labelled samples first, then the candidates.
    std::vector<int64_t> rows = in.labelled;
    rows.insert(rows.end(), in.candidates.begin(), in.candidates.end());
    // (rows, D) float32 on the context's device: on a GPU the features never visit the host.
    Tensor feats;
    int64_t d = 0;
    run_inference(
        in.model, in.ctx, in.pool_data, rows, in.batch_size,
        [&](int64_t first, int64_t count, const Tensor& f) {
          if (d == 0) {
            d = f.numel() / count;
            feats = Tensor({static_cast<int64_t>(rows.size()), d}, DType::f32, in.ctx.device(),
                           "coreset features");
          }
          NSAL_CHECK(f.dtype() == DType::f32 && f.numel() == count * d,
                     "coreset: features of {} values per sample expected, got {}", d, f.describe());
          feats.slice0(first, first + count).copy_from(f.reshaped({count, d}));
        },
        /*features=*/true);
    const int64_t n_lab = static_cast<int64_t>(in.labelled.size());
    std::vector<int64_t> initial(static_cast<size_t>(n_lab));
    for (int64_t i = 0; i < n_lab; ++i)
      initial[static_cast<size_t>(i)] = i;
    const std::vector<int64_t> chosen = kcenter_rows(in.ctx, feats, initial, in.budget);
    Acquisition a;
    for (int64_t r : chosen)
      a.selected.push_back(rows[static_cast<size_t>(r)]);
    a.timing = fmt::format("k-center over {} x {} features on the {}", feats.dim(0), d,
                           in.ctx.device().is_cuda() ? "GPU" : "CPU");
    return a;
  }
};
}  // namespace

std::unique_ptr<Strategy> make_coreset_strategy() {
  return std::make_unique<CoresetStrategy>();
}

}  // namespace nsal::al

// `nsal query`: scores the pool, selects N samples (top-N for the `paper` preset, k-center from
// the origin for `released`) and writes their indices; --export writes them for annotation.
#include <fmt/core.h>

#include <chrono>

#include "al/annotation.h"
#include "al/atomic_file.h"
#include "al/strategy.h"
#include "apps/nsal/command.h"
#include "apps/nsal/scoring_options.h"

namespace nsal::app {

static CommandRegistrar reg("query", [](CLI::App& app) {
  struct Args : ScoringArgs {
    int64_t n = 0;
    std::string out, export_dir;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("query", "Score the pool and choose N samples to label");
  add_scoring_options(*cmd, *a);
  cmd->add_option("-n,--count", a->n, "How many samples to choose")->required();
  cmd->add_option("-o,--out", a->out, "File for the chosen indices, one per line")->required();
  cmd->add_option("--export", a->export_dir,
                  "Folder for annotation: the chosen samples as PNG files, labels.csv to fill");
  cmd->callback([a] {
    ScoringSetup s = load_scoring_setup(*a);
    NSAL_CHECK(a->n >= 1 && a->n <= static_cast<int64_t>(s.pool.size()),
               "nsal query: -n must lie in [1, {}] (the pool size), got {}", s.pool.size(), a->n);
    al::StrategyConfig sc;
    sc.name = "noise-stability";
    sc.ns = a->ns;
    std::vector<int64_t> none;
    al::AcquisitionInput in{*s.model, *s.ctx, s.data, none, s.pool, a->n, a->batch, a->seed};
    al::Acquisition acq = al::make_strategy(sc)->acquire(in);
    al::write_indices(a->out, acq.selected);
    fmt::print("{}\n", acq.timing);
    fmt::print("chose {} of {} samples ({:.2f}s): wrote {}\n", acq.selected.size(), s.pool.size(),
               acq.seconds, a->out);
    if (!a->export_dir.empty()) {
      al::write_annotation_folder(s.data, acq.selected, a->export_dir);
      fmt::print("wrote {}/labels.csv and the samples for annotation\n", a->export_dir);
    }
  });
});

}  // namespace nsal::app

// `nsal query`: chooses N samples of the pool with any acquisition strategy (noise stability by
// default: top-N for the `paper` preset, k-center from the origin for `released`) and writes
// their indices; --export writes them for annotation.
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iterator>

#include "al/annotation.h"
#include "al/atomic_file.h"
#include "al/strategy.h"
#include "apps/nsal/command.h"
#include "apps/nsal/scoring_options.h"

namespace nsal::app {

namespace {
al::StrategyConfig noise_stability() {
  al::StrategyConfig s;
  s.name = "noise-stability";
  return s;
}
}  // namespace

static CommandRegistrar reg("query", [](CLI::App& app) {
  struct Args : ScoringArgs {
    int64_t n = 0;
    std::string out, export_dir, labelled;
    bool force = false;
    al::StrategyConfig strategy = noise_stability();
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("query", "Score the pool and choose N samples to label");
  add_scoring_options(*cmd, *a);
  cmd->add_option("--strategy", a->strategy.name,
                  "noise-stability (default), random, entropy, margin, least-confidence, "
                  "mc-dropout, bald or coreset")
      ->check(CLI::IsMember(al::strategy_names()));
  cmd->add_option("--mc-passes", a->strategy.mc_passes, "mc-dropout and bald: dropout passes T")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--mc-score", a->strategy.mc_score,
                  "mc-dropout: auto (entropy; variance for regression), entropy, "
                  "variation-ratio or variance")
      ->check(CLI::IsMember({"auto", "entropy", "variation-ratio", "variance"}))
      ->capture_default_str();
  cmd->add_option("--labelled", a->labelled,
                  "File of the already labelled indices: left out of the pool; coreset's centres")
      ->check(CLI::ExistingFile);
  cmd->add_option("-n,--count", a->n, "How many samples to choose")->required()->check(at_least(1));
  cmd->add_option("-o,--out", a->out, "File for the chosen indices, one per line")->required();
  cmd->add_option("--export", a->export_dir,
                  "Folder for annotation: the chosen samples as PNG files, labels.csv to fill");
  cmd->add_flag("--force", a->force,
                "Overwrite an existing -o file and replace an existing --export folder");
  cmd->callback([a, cmd] {
    // Options of one strategy given with another are ignored, and said to be (a loop over
    // strategies may pass them all alike).
    const std::string chosen = a->strategy.name;
    auto ignored = [&](const char* option, bool applies, const char* to) {
      if (cmd->count(option) > 0 && !applies)
        fmt::print(stderr, "note: {} applies to --strategy {}, not {}; ignored\n", option, to,
                   chosen);
    };
    for (const char* o : {"--preset", "--draws", "--lambda", "--distribution", "--magnitude",
                          "--groups", "--output"})
      ignored(o, chosen == "noise-stability", "noise-stability");
    ignored("--mc-passes", chosen == "mc-dropout" || chosen == "bald", "mc-dropout or bald");
    ignored("--mc-score", chosen == "mc-dropout", "mc-dropout");
    // Before any work: outputs are never overwritten unasked (a labels.csv may hold labels).
    NSAL_CHECK(a->force || !al::file_exists(a->out), "{} exists; pass --force to overwrite it",
               a->out);
    std::error_code ec;
    const bool export_taken = !a->export_dir.empty() &&
                              std::filesystem::exists(a->export_dir, ec) &&
                              !std::filesystem::is_empty(a->export_dir, ec);
    NSAL_CHECK(a->force || !export_taken,
               "{}: the folder exists and is not empty (its labels.csv may hold labels); choose "
               "another or pass --force to replace the export in it",
               a->export_dir);
    // --force replaces only what an earlier export wrote there (its requested.txt says which);
    // a folder that holds anything else is never emptied.
    NSAL_CHECK(!export_taken || al::file_exists(a->export_dir + "/requested.txt"),
               "{}: not empty and not an export folder (no requested.txt): choose an empty or new "
               "folder for --export",
               a->export_dir);
    ScoringSetup s = load_scoring_setup(*a);
    NSAL_CHECK(a->export_dir.empty() || (s.data.task == data::Task::classification &&
                                         al::annotation_shows_samples(s.data)),
               "--export writes the chosen samples as images with a class label to fill in, but "
               "{} holds a {} dataset of samples {}",
               a->dataset, data::task_name(s.data.task), shape_str(s.data.sample_shape()));
    std::vector<int64_t> labelled;
    if (!a->labelled.empty()) {
      labelled = al::read_indices(a->labelled);
      for (int64_t i : labelled)
        NSAL_CHECK(i < s.data.size(), "{}: index {} is outside the {} split ({} samples)",
                   a->labelled, i, a->split, s.data.size());
      std::sort(labelled.begin(), labelled.end());
      labelled.erase(std::unique(labelled.begin(), labelled.end()), labelled.end());
      std::vector<int64_t> rest;
      std::set_difference(s.pool.begin(), s.pool.end(), labelled.begin(), labelled.end(),
                          std::back_inserter(rest));
      s.pool = std::move(rest);
    }
    NSAL_CHECK(!s.pool.empty(), "nsal query: the pool is empty: every sample of it is in {}",
               a->labelled);
    NSAL_CHECK(a->n >= 1 && a->n <= static_cast<int64_t>(s.pool.size()),
               "nsal query: -n must lie in [1, {}] (the pool size), got {}", s.pool.size(), a->n);
    al::StrategyConfig sc = a->strategy;
    sc.ns = a->ns;
    al::validate_strategy(sc, "nsal query");
    al::check_strategy_fits(sc, *s.model, s.data.task);
    al::AcquisitionInput in{*s.model, *s.ctx, s.data, labelled, s.pool, a->n, a->batch, a->seed};
    al::Acquisition acq = al::make_strategy(sc)->acquire(in);
    al::write_indices(a->out, acq.selected);
    if (!acq.timing.empty()) fmt::print("{}\n", acq.timing);
    fmt::print("{} chose {} of {} samples ({:.2f}s): wrote {}\n", sc.label(), acq.selected.size(),
               s.pool.size(), acq.seconds, a->out);
    if (!a->export_dir.empty()) {
      if (export_taken) al::remove_annotation_folder_files(a->export_dir);  // --force
      al::write_annotation_folder(s.data, acq.selected, a->export_dir);
      fmt::print("wrote {}/labels.csv and the samples for annotation\n", a->export_dir);
    }
  });
});

}  // namespace nsal::app

// Options shared by `nsal score` and `nsal query`: the checkpoint, the pool and every
// noise-stability option of DESIGN section 3.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

#include "al/noise_stability.h"
#include "apps/nsal/model_io.h"
#include "nn/context.h"
#include "nn/model.h"

namespace nsal::app {

struct ScoringArgs {
  std::string checkpoint, dataset, split = "train", indices;
  al::NoiseStabilityConfig ns;
  int batch = 512;
  ExecArgs exec;
  int64_t subset = 0;
  uint64_t seed = 0;
};

void add_scoring_options(CLI::App& cmd, ScoringArgs& a);

// Everything a scoring command works on, loaded from the arguments.
struct ScoringSetup {
  std::unique_ptr<Context> ctx;
  std::unique_ptr<Model> model;
  data::Dataset data;
  std::vector<int64_t> pool;  // dataset indices to score, ascending
};
// Also settles a.ns.fused from the --no-fused flag (a.exec).
ScoringSetup load_scoring_setup(ScoringArgs& a);

// "clean pass 0.41s | perturb+restore 0.012s | perturbed passes 3.90s | ..." for the log.
std::string timing_report(const al::NoiseStabilityTiming& t, double selection_seconds);

}  // namespace nsal::app

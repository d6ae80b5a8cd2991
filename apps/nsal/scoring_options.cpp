#include "apps/nsal/scoring_options.h"

#include <fmt/core.h>

#include <algorithm>

#include "al/atomic_file.h"
#include "al/seeds.h"
#include "al/training.h"
#include "apps/nsal/command.h"
#include "apps/nsal/model_io.h"
#include "data/loader.h"

namespace nsal::app {

void add_scoring_options(CLI::App& cmd, ScoringArgs& a) {
  add_checkpoint_data_options(cmd, a.checkpoint, a.dataset, a.split,
                              "Split holding the pool (train or test)");
  cmd.add_option("--indices", a.indices, "File of pool indices, one per line (default: all)")
      ->check(CLI::ExistingFile);
  cmd.add_option("--subset", a.subset,
                 "Score a random subset of this many pool samples (0: all of them)")
      ->check(at_least(0));
  cmd.add_option("--preset", a.ns.preset,
                 "paper (the paper's method: top-N of the mean squared deviation) or released "
                 "(the authors' code: k-center over deviation vectors); docs/noise-kernels.md")
      ->check(CLI::IsMember({"paper", "released"}))
      ->capture_default_str();
  cmd.add_option("-k,--draws", a.ns.draws, "Noise draws K")
      ->check(at_least(1))
      ->capture_default_str();
  cmd.add_option("--lambda", a.ns.lambda, "Noise magnitude relative to the weights")
      ->check(finite_positive())
      ->capture_default_str();
  cmd.add_option("--distribution", a.ns.distribution, "gaussian, uniform or laplace")
      ->check(CLI::IsMember({"gaussian", "uniform", "laplace"}))
      ->capture_default_str();
  cmd.add_option("--magnitude", a.ns.magnitude, "adaptive (relative to the weights) or constant")
      ->check(CLI::IsMember({"adaptive", "constant"}))
      ->capture_default_str();
  cmd.add_option("--groups", a.ns.groups,
                 "Comma-separated layer groups that get noise (default all)")
      ->delimiter(',');
  cmd.add_option("--output", a.ns.output,
                 "Model output compared: auto (probs; the outputs themselves for regression), "
                 "probs, logits or features")
      ->check(CLI::IsMember({"auto", "probs", "logits", "features"}))
      ->capture_default_str();
  cmd.add_option("--batch-size", a.batch, "Batch size of the passes")
      ->check(at_least(1))
      ->capture_default_str();
  cmd.add_option("--seed", a.seed, "Seed of the noise and of the subset")->capture_default_str();
  add_exec_options(cmd, a.exec);
}

ScoringSetup load_scoring_setup(ScoringArgs& a) {
  a.ns.fused = a.exec.fused;  // the one --no-fused flag of every model command (add_exec_options)
  ScoringSetup s;
  s.ctx = make_context(a.exec);
  s.model = load_model(a.checkpoint, *s.ctx, a.exec.fused);
  s.data = data::read_for_loader(a.dataset, a.split);
  al::check_model_fits(*s.model, s.data);
  s.pool = a.indices.empty() ? data::all_indices(s.data.size()) : al::read_indices(a.indices);
  NSAL_CHECK(!s.pool.empty(), "{}: holds no index (the pool would be empty)", a.indices);
  for (int64_t i : s.pool)
    NSAL_CHECK(i < s.data.size(), "{}: index {} is outside the {} split ({} samples)", a.indices, i,
               a.split, s.data.size());
  std::sort(s.pool.begin(), s.pool.end());
  s.pool.erase(std::unique(s.pool.begin(), s.pool.end()), s.pool.end());
  if (a.subset > 0 && a.subset < static_cast<int64_t>(s.pool.size())) {
    // The subset's stream (seed ^ 5) is fixed for good: a seed picks the same subset in every
    // nsal version (it is not derive_seed's, which `nsal run` uses per trial and cycle).
    s.pool = al::seeded_shuffle(s.pool, al::mix64(a.seed ^ 0x5u));
    s.pool.resize(static_cast<size_t>(a.subset));
    std::sort(s.pool.begin(), s.pool.end());
  }
  return s;
}

std::string timing_report(const al::NoiseStabilityTiming& t, double selection_seconds) {
  double total = t.clean_seconds + t.perturb_seconds + t.perturbed_seconds + selection_seconds;
  auto pct = [&](double x) { return total > 0 ? 100.0 * x / total : 0.0; };
  return fmt::format(
      "time: clean pass {:.3f}s ({:.1f}%), perturb+restore {:.3f}s ({:.1f}%), perturbed passes "
      "{:.3f}s ({:.1f}%), selection {:.3f}s ({:.1f}%); passes on the {} path; perturber memory "
      "{:.1f} KiB, input cache {:.1f} MiB; {} logged restores, {} fallback tiles",
      t.clean_seconds, pct(t.clean_seconds), t.perturb_seconds, pct(t.perturb_seconds),
      t.perturbed_seconds, pct(t.perturbed_seconds), selection_seconds, pct(selection_seconds),
      t.passes, t.extra_bytes / 1024.0, t.input_cache_bytes / 1048576.0, t.logged,
      t.fallback_tiles);
}

}  // namespace nsal::app

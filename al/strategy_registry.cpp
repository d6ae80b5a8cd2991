// Strategy names to implementations. A new strategy is a new al/strategy_*.cpp and one line here.
#include "al/strategy.h"

namespace nsal::al {

std::unique_ptr<Strategy> make_strategy(const StrategyConfig& cfg) {
  if (cfg.name == "random") return make_random_strategy();
  if (cfg.name == "entropy" || cfg.name == "margin" || cfg.name == "least-confidence")
    return make_uncertainty_strategy(cfg.name);
  if (cfg.name == "noise-stability") return make_noise_stability_strategy(cfg.ns);
  if (cfg.name == "mc-dropout") return make_mc_dropout_strategy(cfg.mc_score, cfg.mc_passes);
  if (cfg.name == "bald") return make_mc_dropout_strategy("bald", cfg.mc_passes);
  if (cfg.name == "coreset") return make_coreset_strategy();
  throw Error("strategy: unknown name '" + cfg.name + "'");
}

void check_strategy_fits(const StrategyConfig& cfg, const Model& model, data::Task task) {
  if (cfg.name == "entropy" || cfg.name == "margin" || cfg.name == "least-confidence")
    NSAL_CHECK(task == data::Task::classification,
               "{}: scores class probabilities per sample, so it needs a classification dataset "
               "(this one is {})",
               cfg.name, data::task_name(task));
  check_mc_dropout_fits(cfg, model, task);
}

}  // namespace nsal::al

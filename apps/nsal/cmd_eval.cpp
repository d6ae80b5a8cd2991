// `nsal eval`: a checkpoint's metric on a dataset split.
#include <fmt/core.h>

#include "al/training.h"
#include "apps/nsal/command.h"
#include "apps/nsal/model_io.h"

namespace nsal::app {

static CommandRegistrar reg("eval", [](CLI::App& app) {
  struct Args {
    std::string checkpoint, dataset, split = "test";
    int batch = 512;
    ExecArgs exec;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("eval", "Evaluate a checkpoint on a dataset split");
  add_checkpoint_data_options(*cmd, a->checkpoint, a->dataset, a->split,
                              "Split to evaluate (train or test)");
  cmd->add_option("--batch-size", a->batch, "Batch size")
      ->check(at_least(1))
      ->capture_default_str();
  add_exec_options(*cmd, a->exec);
  cmd->callback([a] {
    auto ctx = make_context(a->exec);
    auto model = load_model(a->checkpoint, *ctx, a->exec.fused);
    data::Dataset d = data::read_for_loader(a->dataset, a->split);
    al::EvalResult r = al::evaluate(*model, *ctx, d, a->batch);
    fmt::print("{} on {} ({}, {} samples): {} {:.4f}, loss {:.4f}\n", model->arch(), a->dataset,
               a->split, r.samples, r.metric, r.value, r.loss);
  });
});

}  // namespace nsal::app

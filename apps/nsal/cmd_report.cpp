// `nsal report RUN_DIR... [-o OUT_DIR] [--metric NAME] [--title T]`: learning curves (PNG, SVG)
// and a markdown summary from the metrics of one or more active-learning runs.
#include <fmt/core.h>

#include "al/report.h"
#include "apps/nsal/command.h"

namespace nsal::app {

static CommandRegistrar reg("report", [](CLI::App& app) {
  auto opts = std::make_shared<al::ReportOptions>();
  auto* cmd = app.add_subcommand(
      "report",
      "Learning curves (mean and min-max over trials) and a summary table from run directories");
  cmd->add_option("runs", opts->runs,
                  "Run directories written by `nsal run` (or their metrics.csv); rows are pooled "
                  "by strategy, each run's trials counting separately")
      ->required();
  cmd->add_option("-o,--out", opts->out_dir, "Output directory (default: <first run>/report)");
  cmd->add_option("--metric", opts->metric,
                  "Metric to draw (accuracy, mIoU, MAE); needed only when the runs hold several");
  cmd->add_option("--title", opts->title,
                  "Figure and summary title (default: dataset, model and trial count)");
  cmd->add_option("--width", opts->width, "Figure width in pixels")
      ->default_val(900)
      ->check(CLI::Range(200, 20000));
  cmd->add_option("--height", opts->height, "Figure height in pixels")
      ->default_val(600)
      ->check(CLI::Range(150, 20000));
  cmd->callback([opts] {
    al::ReportResult r = al::make_report(*opts);
    for (const std::string& w : r.warnings)
      fmt::print(stderr, "nsal: warning: {}\n", w);
    fmt::print("{}\n", r.markdown);
    for (const std::string& f : r.files)
      fmt::print("wrote {}\n", f);
  });
});

}  // namespace nsal::app

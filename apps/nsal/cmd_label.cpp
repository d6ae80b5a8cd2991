// `nsal label import RUN FILE...`: merges labels filled in by people into a run with
// oracle = "human"; `nsal label status RUN`: what each cycle asked for and what is labelled.
#include <fmt/core.h>

#include "al/labels.h"
#include "apps/nsal/command.h"

namespace nsal::app {

namespace {

void print_status(const std::string& run) {
  std::vector<al::AnnotationRequest> reqs = al::annotation_requests(run);
  if (reqs.empty()) {
    fmt::print("{}: no samples were asked for yet\n", run);
    return;
  }
  for (const al::AnnotationRequest& r : reqs)
    // The folder's number is the cycle counted from 0, as the run directory counts them.
    fmt::print("{}/labels.csv: {} of {} labelled{}\n", r.dir, r.labelled, r.indices.size(),
               r.labelled == static_cast<int64_t>(r.indices.size()) ? "" : ", waiting");
}

}  // namespace

static CommandRegistrar reg("label", [](CLI::App& app) {
  auto* label = app.add_subcommand("label", "Labels from people for runs with oracle = \"human\"");
  label->require_subcommand(1);

  struct ImportArgs {
    std::string run;
    std::vector<std::string> files;
  };
  auto a = std::make_shared<ImportArgs>();
  auto* imp = label->add_subcommand(
      "import",
      "Merge filled-in label files (CSV with index and label columns) into RUN/labels.csv");
  imp->add_option("run", a->run, "Run directory (nsal run with oracle = \"human\")")
      ->required()
      ->check(CLI::ExistingDirectory);
  imp->add_option("files", a->files, "Label files, e.g. RUN/annotate/cycle_1/labels.csv")
      ->required()
      ->check(CLI::ExistingFile);
  imp->callback([a] {
    for (const std::string& f : a->files) {
      al::LabelImport r = al::import_labels(a->run, f);
      fmt::print("{}: {} new labels, {} already stored, {} rows still empty\n", f, r.added, r.known,
                 r.blank);
    }
    print_status(a->run);
    fmt::print("continue with: nsal run --resume {}\n", a->run);
  });

  auto run = std::make_shared<std::string>();
  auto* st = label->add_subcommand("status", "Samples asked for and labelled, per cycle");
  st->add_option("run", *run, "Run directory")->required()->check(CLI::ExistingDirectory);
  st->callback([run] { print_status(*run); });
});

}  // namespace nsal::app

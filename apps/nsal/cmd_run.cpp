// `nsal run`: an active-learning experiment from a TOML config (flags override its fields), or
// `nsal run --resume DIR` to finish a run that was stopped.
#include <fmt/core.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "al/loop.h"
#include "apps/nsal/command.h"

namespace nsal::app {

namespace {

struct RunArgs {
  std::string config, resume, dataset, model, out, device, strategies, initial, query, oracle, math;
  int cycles = 0, trials = 0, epochs = 0, threads = 0, draws = 0;
  int64_t subset = -1, seed = -1;
  bool quiet = false, no_fused = false, autotune = false;
};

// Ctrl-C or a TERM signal ends a run as a kill does (a resume finishes it exactly); the handler
// only says how to go on: with the resume command once the run directory holds its config.toml,
// and that nothing began before. It uses only async-signal-safe calls (access, write, raise) on
// text made beforehand, and re-raises the signal with its default action (SA_RESETHAND), so the
// exit status is the signal's.
struct InterruptNote {
  char text[1024];
  size_t size = 0;
  void set(const std::string& s) {
    size = std::min(s.size(), sizeof(text));
    std::memcpy(text, s.data(), size);
  }
};
InterruptNote g_resume_note, g_nothing_note;
char g_config_path[4096];

extern "C" void on_interrupt(int sig) {
  const InterruptNote& n = ::access(g_config_path, F_OK) == 0 ? g_resume_note : g_nothing_note;
  ssize_t written = ::write(STDERR_FILENO, n.text, n.size);
  (void)written;
  ::raise(sig);
}

void note_how_to_resume_on_interrupt(const std::string& dir) {
  const std::string config = dir + "/config.toml";
  if (config.size() >= sizeof(g_config_path)) return;  // no note rather than a wrong one
  std::memcpy(g_config_path, config.c_str(), config.size() + 1);
  g_resume_note.set(fmt::format(
      "\nnsal: interrupted; `nsal run --resume {}` continues the run where it stopped\n", dir));
  g_nothing_note.set("\nnsal: interrupted before the run began; there is nothing to resume\n");
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

// A run with oracle = "human" stops when the next cycle needs labels: say what to do next.
void report_waiting(const al::RunSummary& r) {
  if (r.waiting_for_labels.empty()) return;
  fmt::print(
      "waiting for labels: fill the label column of {0}/labels.csv (a class id or a class name "
      "from {0}/classes.csv; rows may stay empty and be imported later), then run\n"
      "  nsal label import {1} {0}/labels.csv\n"
      "  nsal run --resume {1}\n",
      r.waiting_for_labels, r.dir);
}

// --strategies "random,entropy,noise-stability:paper,noise-stability:released": the listed
// strategies, in that order. One the config file also lists (same name, and same preset where
// the flag names one) keeps the file's settings ([strategy.noise], mc_passes, ...); the others
// take the defaults.
std::vector<al::StrategyConfig> strategies_from_flag(const std::string& flag,
                                                     const std::vector<al::StrategyConfig>& file) {
  std::vector<al::StrategyConfig> out;
  size_t start = 0;
  while (start <= flag.size()) {
    const size_t comma = flag.find(',', start);
    const std::string item = flag.substr(start, comma - start);
    const size_t colon = item.find(':');
    const std::string name = item.substr(0, colon);
    const std::string preset = colon == std::string::npos ? "" : item.substr(colon + 1);
    al::StrategyConfig s;
    s.name = name;
    for (const al::StrategyConfig& f : file)
      if (f.name == name && (preset.empty() || f.ns.preset == preset)) {
        s = f;
        break;
      }
    if (!preset.empty()) s.ns.preset = preset;
    out.push_back(s);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

void run_command(const RunArgs& a) {
  al::Progress progress(a.quiet);
  if (!a.resume.empty()) {
    note_how_to_resume_on_interrupt(a.resume);
    report_waiting(al::resume_active_learning(a.resume, progress, a.device, a.threads));
    return;
  }
  al::RunConfig cfg;
  if (!a.config.empty()) cfg = al::load_run_config(a.config);
  if (!a.dataset.empty()) cfg.dataset = a.dataset;
  if (!a.model.empty()) cfg.model = a.model;
  if (!a.out.empty()) cfg.out_dir = a.out;
  if (!a.device.empty()) cfg.device = a.device;
  if (!a.oracle.empty()) cfg.oracle = a.oracle;
  if (!a.initial.empty()) cfg.initial = al::Amount::parse(a.initial, "--initial");
  if (!a.query.empty()) cfg.query = al::Amount::parse(a.query, "--query");
  if (a.cycles > 0) cfg.cycles = a.cycles;
  if (a.trials > 0) cfg.trials = a.trials;
  if (a.epochs > 0) cfg.train.epochs = a.epochs;
  if (a.threads > 0) cfg.threads = a.threads;
  if (!a.math.empty()) cfg.math = a.math;
  if (a.autotune) cfg.cudnn_autotune = true;
  if (a.subset >= 0) cfg.unlabelled_subset = a.subset;
  if (a.seed >= 0) cfg.seed = static_cast<uint64_t>(a.seed);
  if (!a.strategies.empty()) cfg.strategies = strategies_from_flag(a.strategies, cfg.strategies);
  if (a.draws > 0)
    for (auto& s : cfg.strategies)
      s.ns.draws = a.draws;
  if (a.no_fused) {
    cfg.fused_inference = false;
    for (auto& s : cfg.strategies)
      s.ns.fused = false;
  }
  for (const std::string& w : al::unused_settings(cfg))
    fmt::print(stderr, "warning: {}: {}\n", a.config.empty() ? "nsal run" : a.config, w);
  note_how_to_resume_on_interrupt(cfg.out_dir);
  report_waiting(al::run_active_learning(cfg, progress));
}

}  // namespace

static CommandRegistrar reg("run", [](CLI::App& app) {
  auto args = std::make_shared<RunArgs>();
  auto* cmd = app.add_subcommand("run", "Run an active-learning experiment (configs/*.toml)");
  cmd->add_option("config", args->config, "TOML config file (see docs/cli.md)")
      ->check(CLI::ExistingFile);
  CLI::Option* resume =
      cmd->add_option("--resume", args->resume, "Continue the stopped run in this directory")
          ->check(CLI::ExistingDirectory);
  std::vector<CLI::Option*> settings = {
      cmd->get_option("config"),
      cmd->add_option("--dataset", args->dataset, "HDF5 dataset file (nsal data convert)")
          ->check(CLI::ExistingFile),
      cmd->add_option("--model", args->model, "Architecture (mnist-cnn, resnet18-cifar, ...)"),
      cmd->add_option("-o,--out", args->out, "Run directory to create"),
      cmd->add_option(
          "--strategies", args->strategies,
          "Comma-separated strategies; noise-stability:paper|released picks the preset (one "
          "the config also lists keeps its settings)"),
      cmd->add_option("--oracle", args->oracle,
                      "Who labels: dataset (its labels) or human (stops for nsal label import)"),
      cmd->add_option("--initial", args->initial, "Initial labelled set: a count or a percentage"),
      cmd->add_option("--query", args->query,
                      "Samples acquired per cycle: a count or a percentage"),
      cmd->add_option("--cycles", args->cycles, "Cycles (train, evaluate, acquire)")
          ->check(at_least(1)),
      cmd->add_option("--trials", args->trials, "Trials, each with its own initial set and seeds")
          ->check(at_least(1)),
      cmd->add_option("--epochs", args->epochs, "Training epochs per cycle")->check(at_least(1)),
      cmd->add_option("--draws", args->draws, "Noise-stability draws K")->check(at_least(1)),
      cmd->add_option("--subset", args->subset,
                      "Score a random subset of this many unlabelled (0: all of them)")
          ->check(at_least(0)),
      cmd->add_option("--seed", args->seed, "Run seed")->check(at_least(0)),
      cmd->add_option("--math", args->math, "CUDA math: fp32 (strict, default), tf32 or bf16")
          ->check(CLI::IsMember({"fp32", "tf32", "bf16"})),
      cmd->add_flag("--cudnn-autotune", args->autotune,
                    "GPU: time cuDNN's convolution algorithms once per shape and keep the fastest "
                    "(cudnn_autotune = true; results may then differ in the last bits between "
                    "runs)"),
      cmd->add_flag("--no-fused", args->no_fused,
                    "GPU: every resnet pass on the layer path (fused_inference and every "
                    "[strategy.noise] fused set to false)")};
  // A resumed run continues with the config.toml it saved: nothing may change it halfway, but
  // where it runs (--device, --threads) may.
  for (CLI::Option* o : settings)
    resume->excludes(o);
  cmd->add_option("--device", args->device, "cpu, cuda, cuda:N or auto (also with --resume)");
  cmd->add_option("--threads", args->threads, "CPU threads (also with --resume)")
      ->check(at_least(1));
  cmd->add_flag("-q,--quiet", args->quiet, "No progress output");
  cmd->callback([args] { run_command(*args); });
});

}  // namespace nsal::app

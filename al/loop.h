// The active-learning loop (`nsal run`): for every trial and strategy, cycles of train ->
// evaluate -> acquire, writing the run directory of DESIGN section 6 as it goes:
//
//   RUN/config.toml                         the resolved configuration
//   RUN/metrics.csv, RUN/metrics.jsonl       one row per (trial, strategy, cycle)
//   RUN/environment.jsonl                   one line per start and resume: the machine and
//                                           settings it ran with (al/environment.h)
//   RUN/fingerprint.json, RUN/run.lock      what the run started from (a resume checks it) and
//                                           the lock of the process working on it
//                                           (al/run_fingerprint.h)
//   RUN/trial_<t>/initial.txt               the trial's initial labelled set
//   RUN/trial_<t>/<strategy>/cycle_<c>/     labelled.txt (the cycle's training set),
//                                           checkpoint.h5 (the trained model),
//                                           selected.txt (acquired, in order) and scores.csv
//                                           (index,score of every candidate; the header alone
//                                           for strategies without scores: random, coreset),
//                                           both but in the last cycle, which acquires nothing;
//                                           done.json (the metrics row; written last)
//
//   RUN/labels.csv, RUN/annotate/cycle_<c>/ oracle = "human" only: the imported labels and the
//                                           samples each cycle asked people to label; each
//                                           cycle's labels_used.csv (what it trained on,
//                                           checked on resume)
//
// Every file appears atomically. A cycle whose done.json exists is complete; resuming replays
// the completed cycles from disk and recomputes the first incomplete one from its start, which
// gives exactly the result of an uninterrupted run because every random choice is derived from
// (seed, trial, cycle), and the model is re-initialised each cycle or, when it is kept across
// cycles, reloaded from the previous cycle's checkpoint.
#pragma once

#include <string>
#include <vector>

#include "al/progress.h"
#include "al/report_metrics.h"
#include "al/run_config.h"

namespace nsal::al {

// One row of metrics.csv (the same row `nsal report` reads back; source and line stay 0 here).
using MetricsRow = MetricRow;

struct RunSummary {
  std::string dir;
  std::vector<MetricsRow> rows;
  // oracle = "human": the annotation folder the run stopped at because the next cycle's samples
  // have no labels yet (empty when the run is complete).
  std::string waiting_for_labels;
};

// Starts a run in cfg.out_dir (which must not hold a run already).
RunSummary run_active_learning(const RunConfig& cfg, Progress& progress);
// Continues the run in `dir` from its config.toml and completed cycles.
// `device` and `threads` (when not empty / not 0) replace the saved ones for this resume: they say
// where the run goes on, not what it computes (environment.jsonl records each resume's machine).
RunSummary resume_active_learning(const std::string& dir, Progress& progress,
                                  const std::string& device = "", int threads = 0);

// "noise-stability(paper)" -> "noise-stability-paper": a directory name.
std::string strategy_dir_name(const std::string& label);
// A compact text table: mean metric per strategy (columns) and labelled count (rows).
std::string summary_table(const std::vector<MetricsRow>& rows);

}  // namespace nsal::al

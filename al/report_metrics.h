// The metrics table of an active-learning run (metrics.csv, written by `nsal run`): one row per
// trial x strategy x cycle. `nsal report` reads it back; this is the reader and its checks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nsal::al {

// The columns metrics.csv must have (any order; further columns are ignored).
inline constexpr const char* kMetricsCsvHeader =
    "trial,strategy,cycle,labelled,metric,value,train_seconds,acquisition_seconds,seed";

struct MetricRow {
  int trial = 0;
  std::string strategy;  // "random", "noise-stability(paper)", ...
  int cycle = 0;
  int64_t labelled = 0;
  std::string metric;  // "accuracy", "mIoU" or "MAE"
  double value = 0;    // accuracy and mIoU in [0, 1]
  double train_seconds = 0;
  double acquisition_seconds = 0;  // 0 on the last cycle, which acquires nothing
  uint64_t seed = 0;
  int source = 0;    // which table it came from, when several are pooled
  int64_t line = 0;  // its line in that table (1-based; the header is line 1)
};

// True for metrics stored as fractions and shown as percentages (accuracy, mIoU).
bool metric_is_fraction(const std::string& metric);
// True when a smaller value is better (MAE).
bool metric_lower_is_better(const std::string& metric);

// Parses a metrics table. `name` is used in errors, which are DataErrors naming it and the line:
// a missing column, a row with the wrong number of fields, a number that does not parse, a value
// out of range (accuracy/mIoU outside [0, 1], negative times or counts, NaN), or a second row
// for the same trial, strategy and cycle. An empty file is an error; a header alone gives no rows
// (a run that has not finished a cycle).
std::vector<MetricRow> parse_metrics_csv(const std::string& text, const std::string& name,
                                         int source = 0);
std::vector<MetricRow> read_metrics_csv(const std::string& path, int source = 0);

}  // namespace nsal::al
